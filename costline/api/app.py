"""The ASGI app: routes, one JSON error shape, health, metrics, and the producer's lifetime."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing.exceptions import BillingError
from costline.api import (
    costs_route,
    dashboard_route,
    dead_letters_route,
    economics_route,
    events_route,
    gate_route,
    invoices_route,
    otlp_wire,
    traces_route,
)
from costline.api.auth import Forbidden, Unauthorized
from costline.api.producing import Overloaded, ProduceFailed
from costline.api.service import ApiError, Service, service_of
from costline.config import Settings, get_settings

log = logging.getLogger(__name__)


# A 500-event request allocates some 3,000 containers (parsed JSON, models, results): with
# the default threshold (700) the GC ran several young collections a request, and its full
# collections walked every object the imports made. Measured under bench/http_ingest.py,
# alternating runs: API CPU 20-26 -> 15-17 µs an event, p99 roughly halved.
SERVING_GC_THRESHOLD = (20_000, 20, 20)


def tune_gc_for_serving() -> None:
    """For a process that only serves: what startup made is never garbage, so the collector
    stops walking it (``gc.freeze``), and collects young objects less often."""
    gc.freeze()
    gc.set_threshold(*SERVING_GC_THRESHOLD)


def create_app(settings: Settings, service: Service | None = None, serving: bool = False) -> FastAPI:
    """The API for ``settings``; its Kafka producer starts and stops with the app.

    ``serving``: the process exists to serve it (``costline api``), so the app may tune the
    process's garbage collector; tests and benches that serve it in a thread leave it as is."""
    the_service = service or Service.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await the_service.producer.start()
        the_service.gate.start()
        if serving:
            tune_gc_for_serving()
        try:
            yield
        finally:
            await the_service.gate.stop()
            await the_service.producer.stop()

    app = FastAPI(
        title="Costline",
        summary="Usage events in, costs, invoices, economics and dead letters out, a budget gate, over HTTP",
        version="1",
        lifespan=lifespan,
    )
    app.state.service = the_service
    app.include_router(events_route.router)
    app.include_router(traces_route.router)
    app.include_router(gate_route.router)
    for reading in (costs_route, invoices_route, economics_route, dead_letters_route):
        app.include_router(reading.router)
    app.include_router(dashboard_route.router)
    _health_routes(app)
    _error_handlers(app)
    app.add_middleware(Measured)
    return app


def app_from_environment() -> FastAPI:
    """The app of one of ``costline api --workers N``'s processes, its settings read from the environment."""
    return create_app(get_settings(), serving=True)


def _health_routes(app: FastAPI) -> None:
    @app.get("/healthz", summary="The process is up", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Kafka producer started and ClickHouse reachable", tags=["health"])
    async def readyz(request: Request) -> JSONResponse:
        service = service_of(request)
        checks = {
            "kafka": service.producer.started,
            "clickhouse": await service.clickhouse_reachable(),
        }
        ready = all(checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    @app.get("/metrics", summary="Prometheus metrics", tags=["health"])
    async def metrics(request: Request) -> Response:
        return Response(service_of(request).metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def _error_handlers(app: FastAPI) -> None:
    async def on_error(request: Request, exc: Exception) -> Response:
        def error(status: int, message: str, retry_after_s: int | None = None) -> Response:
            headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
            if status == 401:
                headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
            if request.url.path == otlp_wire.TRACES_PATH:  # OTLP's own error form
                encoding = otlp_wire.answer_encoding(request.headers.get("content-type"))
                body = otlp_wire.status_body(status, message, encoding)
                return Response(body, status_code=status, headers=headers, media_type=encoding.value)
            return JSONResponse({"error": message}, status_code=status, headers=headers)

        if isinstance(exc, ApiError):
            return error(exc.status, str(exc), exc.retry_after_s)
        if isinstance(exc, BillingError):  # a read the read side cannot answer as asked
            return error(400, str(exc))
        if isinstance(exc, Unauthorized):
            return error(401, str(exc))
        if isinstance(exc, Forbidden):
            return error(403, str(exc))
        if isinstance(exc, Overloaded):
            return error(429, str(exc), exc.retry_after_s)
        if isinstance(exc, ProduceFailed):
            service_of(request).metrics.produce_errors.inc()
            log.warning("produce failed: %s", exc)
            return error(503, f"{exc}; nothing is acknowledged, retrying is safe", retry_after_s=1)
        if isinstance(exc, HTTPException):
            return error(exc.status_code, str(exc.detail))
        if isinstance(exc, RequestValidationError):
            first = exc.errors()[0] if exc.errors() else {}
            loc = list(first.get("loc", ()))
            # A query, path or header parameter is named as the caller wrote it.
            where = ".".join(
                str(p) for p in (loc[1:] if loc[:1] in (["query"], ["path"], ["header"]) else loc)
            )
            return error(400, f"{where}: {first.get('msg', 'invalid request')}")
        log.exception("unexpected error on %s", request.url.path)
        return error(500, "internal error")

    for kind in (ApiError, BillingError, Unauthorized, Forbidden, Overloaded, ProduceFailed, HTTPException):
        app.add_exception_handler(kind, on_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, on_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, on_error)


class Measured:
    """Counts and times each request by route and status.

    Plain ASGI, not ``app.middleware("http")``: Starlette's BaseHTTPMiddleware
    runs the rest of the app in a task of its own and streams the answer
    through a queue, which cost more than the metrics themselves.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            # The router names the route in the request's own scope.
            name = getattr(scope.get("route"), "path", "unmatched")
            metrics = scope["app"].state.service.metrics
            metrics.requests.labels(name, str(status)).inc()
            metrics.latency.labels(name).observe(time.perf_counter() - started)
