"""``POST /v1/traces``: OTLP/HTTP trace exports in, GenAI usage produced as llm events.

Answered as OTLP answers: an ExportTraceServiceResponse in the request's
encoding, its partial success naming each rejected span (and counting the
spans without usage, which are ignored), once Kafka has acknowledged the
events. A request that cannot be read is answered with a google.rpc.Status
(:func:`costline.api.app` renders errors on this path so).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from costline.api import otlp_wire
from costline.api.events_route import read_body
from costline.api.keys import ApiKey, Scope
from costline.api.otlp import AttributeMapping, MappedSpans, SpanOutcome, map_spans
from costline.api.service import ApiError, Service, authenticated, service_of
from schemas.events import UsageEvent

router = APIRouter()

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "An OTLP ExportTraceServiceRequest: protobuf, or OTLP JSON (hex ids); gzip or not",
        "content": {
            otlp_wire.Encoding.PROTOBUF.value: {"schema": {"type": "string", "format": "binary"}},
            otlp_wire.Encoding.JSON.value: {"schema": {"type": "object"}},
        },
    }
}


@router.post(
    otlp_wire.TRACES_PATH,
    summary="Send OpenTelemetry traces (OTLP/HTTP); GenAI usage spans become llm events",
    openapi_extra=_BODY_DOC,
    responses={
        200: {"description": "ExportTraceServiceResponse; rejected spans in its partial_success"},
        400: {"description": "not an ExportTraceServiceRequest (a google.rpc.Status says why)"},
        401: {"description": "no valid API key"},
        403: {"description": "the key lacks the ingest scope"},
        413: {"description": "more bytes than a request may hold"},
        415: {"description": "neither application/x-protobuf nor application/json, or not gzip"},
        429: {"description": "overloaded; retry after Retry-After seconds"},
        503: {"description": "Kafka did not acknowledge; retrying is safe"},
    },
)
async def post_traces(
    request: Request, key: Annotated[ApiKey, Depends(authenticated(Scope.INGEST))]
) -> Response:
    service = service_of(request)
    limit = service.settings.otlp_max_body_bytes
    try:
        encoding = otlp_wire.encoding_of(request.headers.get("content-type"))
        body = otlp_wire.decompressed(
            await read_body(request, limit), request.headers.get("content-encoding"), limit
        )
        spans = list(otlp_wire.spans_of(otlp_wire.decode_request(body, encoding)))
    except otlp_wire.WireError as exc:
        raise ApiError(exc.status, str(exc)) from None
    mapped = map_spans(spans, AttributeMapping.from_settings(service.settings), key.customer_id)
    await _produce(service, mapped)
    return Response(
        otlp_wire.response_body(mapped.rejected, mapped.message(), encoding), media_type=encoding.value
    )


async def _produce(service: Service, mapped: MappedSpans) -> None:
    if mapped.events:
        service.inflight.enter(len(mapped.events))  # raises Overloaded: 429
        try:
            events: list[UsageEvent] = list(mapped.events)
            await service.producer.produce(events)  # raises ProduceFailed: 503
        finally:
            service.inflight.leave(len(mapped.events))
    for outcome in SpanOutcome:
        if mapped.counts[outcome]:
            service.metrics.otlp_spans.labels(outcome.value).inc(mapped.counts[outcome])
    service.metrics.events.labels("accepted").inc(len(mapped.events))
