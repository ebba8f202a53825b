"""`costline api --workers 2`: two processes on one port, one Idempotency-Key store, one /metrics."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from costline.config import Settings
from costline.dev.harness import Pipeline
from tests.e2e.api_client import api_pipeline, bearer, free_port
from tests.factories import usage

SMS = Decimal("0.008")  # twilio-sms, a call


@pytest.fixture(scope="module")
def pipeline(services: Settings) -> Iterator[Pipeline]:
    p = api_pipeline(services, "api-workers")
    yield p
    p.close()


@pytest.fixture(scope="module")
def url(pipeline: Pipeline) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "COSTLINE_HOME": str(pipeline.settings.home),
        "COSTLINE_USAGE_TOPIC": pipeline.settings.usage_topic,
        "COSTLINE_CLICKHOUSE_DATABASE": pipeline.settings.clickhouse_database,
        "COSTLINE_API_KEY_CACHE_S": "0",
    }
    command = [sys.executable, "-m", "costline.cli", "api", "--port", str(port), "--workers", "2"]
    api = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, api)
        yield base
    finally:
        api.terminate()
        api.wait(30)


def _wait_ready(base: str, api: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and api.poll() is None:
        try:
            # Both processes ready: several fresh connections in a row all answer.
            if all(httpx.get(f"{base}/readyz", timeout=2).status_code == 200 for _ in range(6)):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("costline api --workers 2 did not get ready")


def test_a_key_replayed_on_fresh_connections_is_answered_alike_by_either_process(
    pipeline: Pipeline, url: str
) -> None:
    globex = bearer(pipeline, "globex")
    batch = [usage(f"order-{n}", customer="globex") for n in range(5)]
    once = {**globex, "Idempotency-Key": "globex-order-1"}
    first = httpx.post(f"{url}/v1/events", json=batch, headers=once)
    assert first.status_code == 202 and first.json()["accepted"] == 5
    # A new connection each: the kernel hands them to either process.
    for _ in range(12):
        replay = httpx.post(f"{url}/v1/events", json=batch, headers=once)
        assert replay.status_code == 202 and replay.json()["duplicate"] == 5
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert [r["event_id"] for r in replay.json()["results"]] == [f"order-{n}" for n in range(5)]
    assert httpx.post(f"{url}/v1/events", json=batch[:1], headers=once).status_code == 422
    pipeline.wait_until_counted(5)
    assert pipeline.customer_totals()["globex"] == 5 * SMS


def test_metrics_count_every_process_whichever_answers(pipeline: Pipeline, url: str) -> None:
    before = _events_counted(url)
    initech = bearer(pipeline, "initech")
    for n in range(6):  # fresh connections: both processes take some
        batch = [usage(f"metered-{n}-a", customer="initech"), usage(f"metered-{n}-b", customer="initech")]
        assert httpx.post(f"{url}/v1/events", json=batch, headers=initech).json()["accepted"] == 2
    for _ in range(4):  # and either answers /metrics with both processes' counts
        assert _events_counted(url)["accepted"] - before["accepted"] == 12


def _events_counted(url: str) -> dict[str, float]:
    return {
        sample.labels["result"]: sample.value
        for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text)
        if family.name == "costline_api_events"
        for sample in family.samples
        if sample.name == "costline_api_events_total"
    }
