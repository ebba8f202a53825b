"""OTLP/HTTP traces through the real broker, ClickHouse and worker: GenAI spans in, priced once."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from costline.api.otlp import OtlpSpan
from costline.config import Settings
from costline.dev.harness import Pipeline
from tests.e2e.api_client import api_client, api_pipeline, bearer
from tests.factories import genai_span, otlp_json, otlp_request

PROTOBUF = {"Content-Type": "application/x-protobuf"}
# gpt-4o at 9 on the sample day: $2.50 / $1.25 cached / $10.00 per million tokens in / cached / out.
CALL = Decimal("0.0035")  # 1,000 in, 100 out
CACHED_CALL = Decimal("0.00325")  # of which 200 read from the cache


@pytest.fixture(scope="module")
def pipeline(services: Settings) -> Iterator[Pipeline]:
    p = api_pipeline(services, "otlp")
    yield p
    p.close()


@pytest.fixture(scope="module")
def api(pipeline: Pipeline) -> Iterator[httpx.Client]:
    with api_client(pipeline) as client:
        yield client


def of(customer: str) -> dict[str, str]:
    return {"service.name": "support-bot", "costline.customer_id": customer}


def ledger_ids(pipeline: Pipeline, customer: str) -> list[str]:
    sql = "SELECT event_id FROM ledger FINAL WHERE customer_id = {customer:String} ORDER BY event_id"
    return [row[0] for row in pipeline.rows(sql, customer=customer)]


def gzipped(*spans: OtlpSpan) -> bytes:
    return gzip.compress(otlp_request(list(spans)).SerializeToString())


def test_a_span_in_protobuf_and_one_in_json_are_both_priced(pipeline: Pipeline, api: httpx.Client) -> None:
    acme = bearer(pipeline, "acme")
    in_protobuf = otlp_request([genai_span(1)]).SerializeToString()
    answer = api.post("/v1/traces", content=in_protobuf, headers={**acme, **PROTOBUF})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(answer.content).HasField("partial_success")

    cached = genai_span(2, **{"gen_ai.usage.cache_read.input_tokens": 200})
    answer = api.post("/v1/traces", json=otlp_json([cached]), headers=acme)
    assert answer.status_code == 200 and answer.json() == {}

    pipeline.wait_until_counted(2)
    assert pipeline.customer_totals()["acme"] == CALL + CACHED_CALL
    trace = genai_span().trace_id.hex()
    assert ledger_ids(pipeline, "acme") == [f"otel:{trace}:000000000000000{n}" for n in (1, 2)]


def test_a_span_sent_again_is_billed_once_and_others_are_rejected_or_ignored(
    pipeline: Pipeline, api: httpx.Client
) -> None:
    globex = {**bearer(pipeline, "globex"), **PROTOBUF, "Content-Encoding": "gzip"}
    span = genai_span(11, resource=of("globex"))
    assert api.post("/v1/traces", content=gzipped(span), headers=globex).status_code == 200

    # A Collector's retry, with an acme span the globex key may not write and a span without usage.
    no_usage = genai_span(
        13, resource=of("globex"), **{"gen_ai.usage.input_tokens": None, "gen_ai.usage.output_tokens": None}
    )
    again = gzipped(span, genai_span(12, resource=of("acme")), no_usage)
    answer = api.post("/v1/traces", content=again, headers=globex)
    partial = ExportTraceServiceResponse.FromString(answer.content).partial_success
    assert partial.rejected_spans == 1
    assert "'acme' is not this key's customer ('globex')" in partial.error_message
    assert "1 span(s) without GenAI usage ignored" in partial.error_message

    # A later span of the same customer (so the same partition) shows the retry was handled.
    later = gzipped(genai_span(14, resource=of("globex")))
    assert api.post("/v1/traces", content=later, headers=globex).status_code == 200
    pipeline.wait_for(
        "SELECT sum(events) FROM cost_windows FINAL "
        "WHERE customer_id = 'globex' AND agent_id = '*' AND window_size = 3600",
        2,
    )
    assert len(ledger_ids(pipeline, "globex")) == 2
    assert pipeline.customer_totals()["globex"] == 2 * CALL


def test_a_request_that_fails_is_answered_with_a_status_and_spans_are_counted(
    pipeline: Pipeline, api: httpx.Client
) -> None:
    spans = otlp_json([genai_span(21)])
    no_key = api.post("/v1/traces", json=spans)
    assert no_key.status_code == 401 and no_key.json()["code"] == 16  # UNAUTHENTICATED
    acme = bearer(pipeline, "acme")
    wrong_type = api.post("/v1/traces", content=b"spans", headers={**acme, "Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    garbage = api.post("/v1/traces", content=b"\xff\xff", headers={**acme, **PROTOBUF})
    assert garbage.status_code == 400 and b"ExportTraceServiceRequest" in garbage.content
    shown = api.get("/metrics").text
    for line in (
        'costline_api_otlp_spans_total{result="accepted"}',
        'costline_api_otlp_spans_total{result="rejected"}',
        'costline_api_otlp_spans_total{result="ignored"}',
        'costline_api_requests_total{route="/v1/traces",status="200"}',
        'costline_api_requests_total{route="/v1/traces",status="401"}',
    ):
        assert line in shown
