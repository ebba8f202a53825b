"""The worker's own pages on Faust's web server: /healthz, /readyz, /metrics.

Faust's server runs on the worker's event loop, so an answer from /healthz
means the loop is turning; a server in a thread would answer while the loop
is stuck. It starts before the consumer joins its group, so /readyz says 503
(and why) while partitions are assigned and their windows restored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from faust.web import Request, Response, View

from streams.metrics import CONTENT_TYPE, WorkerMetrics

log = logging.getLogger(__name__)
PAGES = ("/healthz", "/readyz", "/metrics")


def register(app: Any, metrics: WorkerMetrics, missing: Callable[[], list[str]]) -> None:
    """Add the pages to ``app``; ``missing`` says what the worker still waits for ([]: ready)."""
    metrics.track_readiness(missing)

    @app.page("/healthz")  # type: ignore[untyped-decorator]
    async def healthz(web: View, request: Request) -> Response:
        return web.text("ok\n")

    @app.page("/readyz")  # type: ignore[untyped-decorator]
    async def readyz(web: View, request: Request) -> Response:
        waiting = missing()
        if waiting:
            return web.text("not ready: " + "; ".join(waiting) + "\n", status=503)
        return web.text("ready\n")

    @app.page("/metrics")  # type: ignore[untyped-decorator]
    async def prometheus(web: View, request: Request) -> Response:
        return web.bytes(metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})


def bound_url(app: Any, host: str) -> str:
    """Where the server listens (the port chosen at start when the setting is 0)."""
    return f"http://{host}:{app.conf.web_port}"
