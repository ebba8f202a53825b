"""OTLP/HTTP's wire: protobuf and JSON (hex ids) requests in, responses and statuses out."""

from __future__ import annotations

import gzip
import json

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from costline.api.otlp_wire import (
    Encoding,
    WireError,
    decode_request,
    decompressed,
    encoding_of,
    response_body,
    spans_of,
    status_body,
)
from tests.factories import TRACE_ID, genai_span, otlp_json, otlp_request

SPANS = [genai_span(1), genai_span(2, **{"enduser.id": 42, "gen_ai.usage.input_tokens": 7.0})]


def test_protobuf_and_json_requests_give_the_same_spans() -> None:
    from_protobuf = list(spans_of(decode_request(otlp_request(SPANS).SerializeToString(), Encoding.PROTOBUF)))
    from_json = list(spans_of(decode_request(json.dumps(otlp_json(SPANS)).encode(), Encoding.JSON)))
    assert from_protobuf == from_json == SPANS
    assert from_json[0].trace_id == TRACE_ID


def test_json_ids_are_hex_and_unknown_fields_are_ignored() -> None:
    document = otlp_json(SPANS[:1])
    assert document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] == "0000000000000001"
    document["resourceSpans"][0]["somethingNewer"] = {"x": 1}
    assert len(list(spans_of(decode_request(json.dumps(document).encode(), Encoding.JSON)))) == 1


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (b"\xff\xff\xff", Encoding.PROTOBUF),
        (b"[1, 2]", Encoding.JSON),
        (b"{not json", Encoding.JSON),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', Encoding.JSON),
        (b'{"resourceSpans": "many"}', Encoding.JSON),
    ],
)
def test_a_body_that_is_not_a_request_is_a_400(body: bytes, encoding: Encoding) -> None:
    with pytest.raises(WireError) as caught:
        decode_request(body, encoding)
    assert caught.value.status == 400


def test_content_types_and_encodings() -> None:
    assert encoding_of("application/json; charset=utf-8") is Encoding.JSON
    assert encoding_of("application/x-protobuf") is Encoding.PROTOBUF
    with pytest.raises(WireError, match="text/plain"):
        encoding_of("text/plain")
    assert decompressed(gzip.compress(b"spans"), "gzip", 1024) == b"spans"
    with pytest.raises(WireError) as too_big:
        decompressed(gzip.compress(b"\0" * 10_000), "gzip", 1024)  # a small bomb
    assert too_big.value.status == 413
    with pytest.raises(WireError, match="br"):
        decompressed(b"x", "br", 1024)


def test_the_response_carries_a_partial_success_in_the_requests_encoding() -> None:
    parsed = ExportTraceServiceResponse.FromString(response_body(2, "2 span(s) rejected", Encoding.PROTOBUF))
    assert (parsed.partial_success.rejected_spans, parsed.partial_success.error_message) == (
        2,
        "2 span(s) rejected",
    )
    assert json.loads(response_body(0, "", Encoding.JSON)) == {}
    assert json.loads(response_body(1, "why", Encoding.JSON)) == {
        "partialSuccess": {"rejectedSpans": "1", "errorMessage": "why"}
    }


def test_a_failed_request_is_answered_with_a_status() -> None:
    assert json.loads(status_body(401, "no key", Encoding.JSON)) == {"code": 16, "message": "no key"}
    assert status_body(400, "bad", Encoding.PROTOBUF) == b"\x08\x03\x12\x03bad"
