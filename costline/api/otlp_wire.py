"""OTLP/HTTP's wire: a trace export request in (protobuf or JSON, maybe gzip), its answers out.

The generated protobuf modules are untyped: ``Any`` stays in this module,
which hands the mapping plain :class:`~costline.api.otlp.OtlpSpan` values.
OTLP's JSON is protobuf's JSON mapping except for trace and span ids, sent
in hex rather than base64; they are turned back before parsing.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from costline.api.otlp import AttributeValue, OtlpSpan

TRACES_PATH = "/v1/traces"
_HEX_ID_FIELDS = ("traceId", "spanId", "parentSpanId")
_SCALARS = ("string_value", "bool_value", "int_value", "double_value")
# google.rpc.Code for the HTTP statuses this endpoint answers (OTLP/HTTP: the body is a Status).
_RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 413: 8, 415: 3, 422: 3, 429: 8, 503: 14}


class Encoding(StrEnum):
    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


class WireError(ValueError):
    """The request cannot be read; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def encoding_of(content_type: str | None) -> Encoding:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        return Encoding(media)
    except ValueError:
        shown = media or "no type"
        raise WireError(415, f"send {Encoding.PROTOBUF} or {Encoding.JSON}, not {shown!r}") from None


def answer_encoding(content_type: str | None) -> Encoding:
    """The encoding to answer in: the request's, protobuf when it has none we know."""
    try:
        return encoding_of(content_type)
    except WireError:
        return Encoding.PROTOBUF


def decompressed(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The body as sent before compression (gzip or none), at most ``limit`` bytes of it."""
    coding = (content_encoding or "identity").strip().lower()
    if coding == "identity":
        return body
    if coding != "gzip":
        raise WireError(415, f"Content-Encoding gzip or none, not {coding!r}")
    inflater = zlib.decompressobj(wbits=31)
    try:
        plain = inflater.decompress(body, limit + 1)  # bounded: a small bomb cannot fill memory
    except zlib.error:
        raise WireError(400, "the body is not valid gzip") from None
    if len(plain) > limit:
        raise WireError(413, f"a request body holds at most {limit:,} bytes once decompressed")
    if not inflater.eof:
        raise WireError(400, "the gzip body is truncated")
    return plain


def decode_request(body: bytes, encoding: Encoding) -> Any:
    request = ExportTraceServiceRequest()
    try:
        if encoding is Encoding.PROTOBUF:
            request.ParseFromString(body)
        else:
            document = json.loads(body)
            if not isinstance(document, dict):
                raise WireError(400, "the body is not an ExportTraceServiceRequest JSON object")
            json_format.ParseDict(_ids_to_base64(document), request, ignore_unknown_fields=True)
    except (DecodeError, json_format.ParseError, ValueError, RecursionError) as exc:
        if isinstance(exc, WireError):
            raise
        raise WireError(400, f"not an ExportTraceServiceRequest: {str(exc)[:200]}") from None
    return request


def spans_of(request: Any) -> Iterator[OtlpSpan]:
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield OtlpSpan(
                    trace_id=bytes(span.trace_id),
                    span_id=bytes(span.span_id),
                    end_time_unix_nano=int(span.end_time_unix_nano),
                    attributes=_attributes(span.attributes),
                    resource=resource,
                )


def response_body(rejected: int, message: str, encoding: Encoding) -> bytes:
    """An ExportTraceServiceResponse; partial success only when something was rejected or ignored."""
    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    if encoding is Encoding.PROTOBUF:
        return bytes(response.SerializeToString())
    return json.dumps(json_format.MessageToDict(response)).encode()


def status_body(http_status: int, message: str, encoding: Encoding) -> bytes:
    """A google.rpc.Status (code, message), as OTLP/HTTP answers a failed request."""
    code = _RPC_CODES.get(http_status, 13)  # INTERNAL
    if encoding is Encoding.JSON:
        return json.dumps({"code": code, "message": message}).encode()
    text = message.encode()
    # Two fields by hand (googleapis' Status is not a dependency): 1 varint code, 2 string message.
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _attributes(key_values: Any) -> dict[str, AttributeValue]:
    """Scalar attributes (arrays, maps and bytes are not ids or counts); the first of a repeated key."""
    found: dict[str, AttributeValue] = {}
    for key_value in key_values:
        which = key_value.value.WhichOneof("value")
        if which in _SCALARS and key_value.key not in found:
            found[key_value.key] = getattr(key_value.value, which)
    return found


def _ids_to_base64(document: dict[str, Any]) -> dict[str, Any]:
    for resource_spans in _objects(document.get("resourceSpans")):
        for scope_spans in _objects(resource_spans.get("scopeSpans")):
            for span in _objects(scope_spans.get("spans")):
                _hex_ids(span)
                for link in _objects(span.get("links")):
                    _hex_ids(link)
    return document


def _hex_ids(holder: dict[str, Any]) -> None:
    for name in _HEX_ID_FIELDS:
        value = holder.get(name)
        if isinstance(value, str):
            try:
                holder[name] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                raise WireError(400, f"{name} {value[:40]!r} is not hex") from None


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
