"""`costline api` against the real broker, ClickHouse and worker: HTTP in, priced, billed once."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from costline.api import key_store
from costline.api.keys import Scope
from costline.config import Settings
from costline.dev.harness import Pipeline
from tests.e2e.api_client import api_client, api_pipeline, bearer
from tests.factories import usage

SMS = Decimal("0.008")  # twilio-sms, a call


@pytest.fixture(scope="module")
def pipeline(services: Settings) -> Iterator[Pipeline]:
    p = api_pipeline(services, "api")
    yield p
    p.close()


@pytest.fixture(scope="module")
def api(pipeline: Pipeline) -> Iterator[httpx.Client]:
    with api_client(pipeline) as client:
        yield client


def test_a_batch_sent_over_http_is_priced_in_clickhouse(pipeline: Pipeline, api: httpx.Client) -> None:
    acme = bearer(pipeline, "acme")
    batch = [usage(f"http-sms-{n}") for n in range(3)] + [usage("http-bad", calls="3")]
    answer = api.post("/v1/events", json=batch, headers=acme)
    assert answer.status_code == 202
    assert [r["status"] for r in answer.json()["results"]] == ["accepted"] * 3 + ["rejected"]
    assert "calls" in answer.json()["results"][3]["reason"]
    pipeline.wait_until_counted(3)
    assert pipeline.customer_totals()["acme"] == 3 * SMS


def test_a_batch_sent_twice_is_billed_once(pipeline: Pipeline, api: httpx.Client) -> None:
    globex = bearer(pipeline, "globex")
    batch = [usage(f"again-{n}", customer="globex") for n in range(5)]
    once = {**globex, "Idempotency-Key": "globex-order-1"}
    assert api.post("/v1/events", json=batch, headers=once).json()["accepted"] == 5
    replay = api.post("/v1/events", json=batch, headers=once)
    assert replay.status_code == 202 and replay.json()["duplicate"] == 5
    assert replay.headers["Idempotent-Replayed"] == "true"
    other_body = api.post("/v1/events", json=batch[:1], headers=once)
    assert other_body.status_code == 422
    # Without the key the same ids reach Kafka again, and the worker counts each once.
    assert api.post("/v1/events", json=batch + batch[:1], headers=globex).json()["duplicate"] == 1
    pipeline.wait_for("SELECT count() FROM ledger FINAL WHERE customer_id = 'globex'", 5)
    pipeline.wait_for(
        "SELECT sum(events) FROM cost_windows FINAL "
        "WHERE customer_id = 'globex' AND agent_id = '*' AND window_size = 3600",
        5,
    )
    assert pipeline.customer_totals()["globex"] == 5 * SMS


def test_a_key_for_one_customer_cannot_write_another(pipeline: Pipeline, api: httpx.Client) -> None:
    acme = bearer(pipeline, "acme")
    answer = api.post("/v1/events", json=[usage("mine"), usage("theirs", customer="globex")], headers=acme)
    assert answer.status_code == 403 and "globex" in answer.json()["error"]
    anyone = bearer(pipeline, None)
    assert api.post("/v1/events", json=usage("theirs", customer="initech"), headers=anyone).status_code == 202


def test_only_an_admin_key_may_send_a_correction(pipeline: Pipeline, api: httpx.Client) -> None:
    # A tenant that could send corrections could lower its own bill.
    correction = {**usage("fix-1"), "kind": "correction"}
    answer = api.post("/v1/events", json=[correction], headers=bearer(pipeline, "acme"))
    assert answer.status_code == 403 and "admin" in answer.json()["error"]
    assert api.post("/v1/events", json=[correction], headers=bearer(pipeline, None)).status_code == 403


def test_a_revoked_or_unknown_key_or_none_is_refused(pipeline: Pipeline, api: httpx.Client) -> None:
    _, secret = key_store.create_key(pipeline.db, [Scope.INGEST], "acme", name="leaked")
    key_id = secret.split("_")[1]
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.post("/v1/events", json=usage("before-revoke"), headers=headers).status_code == 202
    key_store.revoke_key(pipeline.db, key_id)
    refused = api.post("/v1/events", json=usage("after-revoke"), headers=headers)
    assert refused.status_code == 401 and refused.json() == {
        "error": "the API key is not valid (unknown, wrong or revoked)"
    }
    assert api.post("/v1/events", json=usage("no-key")).status_code == 401
    wrong = {"Authorization": f"Bearer {secret[:-4]}AAAA"}
    assert api.post("/v1/events", json=usage("wrong-key"), headers=wrong).status_code == 401
    reader = bearer(pipeline, "acme", Scope.READ)
    assert api.post("/v1/events", json=usage("read-only"), headers=reader).status_code == 403


def test_a_batch_over_the_limits_is_413(pipeline: Pipeline, api: httpx.Client) -> None:
    acme = bearer(pipeline, "acme")
    too_many = api.post("/v1/events", json=[usage(f"x-{n}") for n in range(1001)], headers=acme)
    assert too_many.status_code == 413 and "1,000" in too_many.json()["error"]
    huge = usage("huge", attributes={f"k{n}": "x" * 1000 for n in range(64)})
    too_big = api.post("/v1/events", json=[huge] * 20, headers=acme)
    assert too_big.status_code == 413 and "bytes" in too_big.json()["error"]


def test_health_readiness_and_metrics_need_no_key_and_show_the_counts(
    pipeline: Pipeline, api: httpx.Client
) -> None:
    acme = bearer(pipeline, "acme")
    api.post(
        "/v1/events", json=[usage("metered"), usage("metered"), usage("metered", calls=-1)], headers=acme
    )
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"ready": True, "kafka": True, "clickhouse": True}
    assert api.get("/docs").status_code == 200
    shown = api.get("/metrics").text
    for line in (
        'costline_api_events_total{result="accepted"}',
        'costline_api_events_total{result="duplicate"}',
        'costline_api_events_total{result="rejected"}',
        'costline_api_requests_total{route="/v1/events",status="202"}',
        'costline_api_requests_total{route="/v1/events",status="401"}',
        "costline_api_request_duration_seconds_bucket",
        "costline_api_kafka_produce_errors_total 0.0",
    ):
        assert line in shown
    counted = {
        line.split('"')[1]: float(line.rsplit(" ", 1)[1])
        for line in shown.splitlines()
        if line.startswith("costline_api_events_total{")
    }
    assert counted["accepted"] >= 1 and counted["duplicate"] >= 1 and counted["rejected"] >= 1


def test_an_event_travels_as_its_client_sent_it_and_the_worker_reads_it_as_the_api_did(
    pipeline: Pipeline, api: httpx.Client
) -> None:
    # Padded ids, a time at +01:00 and a count: the API validates, sends the client's own JSON,
    # and the worker's reading (stripped, in UTC) is the one the API accepted.
    sent = usage(" hooli-sms-1 ", customer=" hooli ", at="2026-11-20T10:00:00+01:00", calls=2)
    answer = api.post("/v1/events", json=[sent], headers=bearer(pipeline, None))
    assert answer.json()["results"] == [{"index": 0, "event_id": "hooli-sms-1", "status": "accepted"}]
    pipeline.wait_for("SELECT count() FROM ledger FINAL WHERE customer_id = 'hooli'", 1)
    pipeline.wait_for(
        "SELECT sum(events) FROM cost_windows FINAL "
        "WHERE customer_id = 'hooli' AND agent_id = '*' AND window_size = 3600",
        1,
    )
    assert pipeline.customer_totals()["hooli"] == 2 * SMS
    at = pipeline.scalar("SELECT toString(occurred_at) FROM ledger FINAL WHERE customer_id = 'hooli'")
    assert at.startswith("2026-11-20 09:00:00")
