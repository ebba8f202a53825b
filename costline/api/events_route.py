"""``POST /v1/events``: one event or a batch in, a result per event out, after Kafka has them."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from costline.api.batches import (
    BatchError,
    EventResult,
    Outcome,
    check_events,
    customers_of,
    operator_kinds_in,
    read_batch,
    replayed,
)
from costline.api.idempotency import valid_key
from costline.api.keys import ApiKey, Scope
from costline.api.service import ApiError, Service, authenticated, service_of

router = APIRouter()

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One usage event (the Kafka contract, schemas/events.py) or a JSON array of them",
        "content": {"application/json": {"schema": {"oneOf": [{"type": "object"}, {"type": "array"}]}}},
    }
}


@router.post(
    "/v1/events",
    status_code=202,
    summary="Send usage events",
    openapi_extra=_BODY_DOC,
    responses={
        400: {"description": "not JSON, or an empty array"},
        401: {"description": "no valid API key"},
        403: {"description": "the key may not write an event's customer, or lacks the ingest scope"},
        409: {"description": "a request with this Idempotency-Key is still running"},
        413: {"description": "more events or bytes than a batch may hold"},
        422: {"description": "this Idempotency-Key came before with another body"},
        429: {"description": "overloaded; retry after Retry-After seconds"},
        503: {"description": "Kafka did not acknowledge; retrying is safe"},
    },
)
async def post_events(
    request: Request,
    key: Annotated[ApiKey, Depends(authenticated(Scope.INGEST))],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    service = service_of(request)
    body = await read_body(request, service.settings.api_max_body_bytes)
    try:
        items = read_batch(body, service.settings.api_max_batch_events)
    except BatchError as exc:
        raise ApiError(exc.status, str(exc)) from None
    foreign = sorted(customers_of(items) - {key.customer_id}) if key.customer_id is not None else []
    if foreign:
        raise ApiError(
            403, f"this key writes only customer {key.customer_id!r}, not {', '.join(map(repr, foreign[:5]))}"
        )
    if (operator_only := operator_kinds_in(items)) and not key.allows(Scope.ADMIN):
        raise ApiError(403, f"only an admin key may send {', '.join(sorted(operator_only))} events")
    if idempotency_key is None:
        return _answer(await _ingest(service, items))
    if not valid_key(idempotency_key):
        raise ApiError(400, "an Idempotency-Key is 1 to 255 printable ASCII characters")
    earlier = service.idempotency.claim(key.key_id, idempotency_key, hashlib.sha256(body).digest())
    if earlier is not None:
        if earlier.body_sha256 != hashlib.sha256(body).digest():
            raise ApiError(422, "this Idempotency-Key was used with another body; use a new key")
        if earlier.results is None:
            raise ApiError(409, "a request with this Idempotency-Key is still running", retry_after_s=1)
        again = replayed(earlier.results)
        service.metrics_events(again)
        return _answer(again, replay=True)
    try:
        results = await _ingest(service, items)
    except BaseException:
        service.idempotency.forget(key.key_id, idempotency_key)
        raise
    service.idempotency.complete(key.key_id, idempotency_key, results)
    return _answer(results)


async def _ingest(service: Service, items: list[Any]) -> list[EventResult]:
    service.inflight.enter(len(items))  # raises Overloaded: 429
    try:
        checked = check_events(items)
        if checked.accepted:
            await service.producer.produce(checked.accepted, checked.sent)  # raises ProduceFailed: 503
    finally:
        service.inflight.leave(len(items))
    service.metrics_events(checked.results)
    return checked.results


def _answer(results: list[EventResult], replay: bool = False) -> Response:
    """The counts and a result per event. orjson, not JSONResponse's json.dumps: a batch of 500
    results took ~2 % of a request's time to encode (bench/http_ingest.py under py-spy)."""
    counts = {outcome.value: 0 for outcome in Outcome}
    for result in results:
        counts[result.outcome.value] += 1
    headers = {"Idempotent-Replayed": "true"} if replay else None
    body = orjson.dumps({**counts, "results": [r.as_json() for r in results]})
    return Response(body, status_code=202, headers=headers, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    too_big = ApiError(413, f"a request body holds at most {limit:,} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_big
    return bytes(body)
