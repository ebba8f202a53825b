"""The budget gate against the real broker, ClickHouse, worker and API: concurrent agents never
overshoot a hard budget, real usage settles their reservations, and an SDK that loses the gate
fails closed for a hard budget and open for a soft one."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from costline.api.keys import Scope
from costline.api.server import in_thread
from costline.budgets import publish_and_record
from costline.config import Settings
from costline.dev.harness import Pipeline
from costline.gate_client import GateClient
from schemas.budgets import Budget
from schemas.gate import RESERVATION_ATTRIBUTE, DecisionSource, GateDecision
from tests.e2e.api_client import api_client, api_pipeline, bearer, free_port
from tests.factories import event, usage

SMS = Decimal("0.008")  # twilio-sms, a call


@pytest.fixture(scope="module")
def pipeline(services: Settings) -> Iterator[Pipeline]:
    p = api_pipeline(services, "gate")
    yield p
    p.close()


@pytest.fixture(scope="module")
def api(pipeline: Pipeline) -> Iterator[httpx.Client]:
    with api_client(pipeline) as client:
        yield client


def load_budget(p: Pipeline, budget_id: str, customer: str, amount: str, **fields: Any) -> Budget:
    budget = Budget.model_validate(
        {"budget_id": budget_id, "customer_id": customer, "period": "day", "amount": amount, "kind": "hard",
         **fields}
    )  # fmt: skip
    publish_and_record(p.settings, p.db, [budget])
    return budget


def check(
    api: httpx.Client, key: dict[str, str], customer: str, estimate: str, **more: Any
) -> httpx.Response:
    body = {"customer_id": customer, "agent_id": "researcher", "estimate": estimate, **more}
    return api.post("/v1/gate/check", json=body, headers=key)


def until(answer: Any, holds: Any, timeout: float = 60) -> Any:
    """``answer()`` polled until ``holds(it)``; the last answer otherwise, for the assertion to show."""
    deadline = time.monotonic() + timeout
    while not holds(got := answer()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return got


def wait_until_gated(api: httpx.Client, key: dict[str, str], customer: str, budget_id: str) -> None:
    answer = until(lambda: check(api, key, customer, "0"), lambda r: r.json().get("budget_id") == budget_id)
    assert answer.json().get("budget_id") == budget_id, answer.text


async def twenty_agents_at_once(url: str, key: dict[str, str], customer: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=url, headers=key, timeout=30) as client:
        bodies = [{"customer_id": customer, "agent_id": f"agent-{n}", "estimate": "0.10"} for n in range(20)]
        answers = await asyncio.gather(*(client.post("/v1/gate/check", json=b) for b in bodies))
    assert {a.status_code for a in answers} == {200}
    return [a.json() for a in answers]


def test_twenty_concurrent_callers_of_a_hard_dollar_get_ten_dimes_and_real_usage_settles_them(
    pipeline: Pipeline, api: httpx.Client
) -> None:
    key = bearer(pipeline, "dime-co", Scope.GATE, Scope.INGEST)
    load_budget(pipeline, "dime-day", "dime-co", "1.00")
    wait_until_gated(api, key, "dime-co", "dime-day")

    answers = asyncio.run(twenty_agents_at_once(str(api.base_url), key, "dime-co"))

    allowed = [a for a in answers if a["allowed"]]
    assert len(allowed) == 10
    assert min(Decimal(a["remaining"]) for a in allowed) == Decimal(0)
    assert all(a["reason"].startswith("denied: hard budget dime-day") for a in answers if not a["allowed"])
    # Each allowed agent makes its call (10 texts, $0.08, under the $0.10 it asked) and reports it.
    now = datetime.now(UTC)
    calls = [
        usage(f"dime-{n}", customer="dime-co", agent=f"agent-{n}", at=now, calls=10,
              attributes={RESERVATION_ATTRIBUTE: a["reservation_id"]})
        for n, a in enumerate(allowed)
    ]  # fmt: skip
    assert api.post("/v1/events", json=calls, headers=key).json()["accepted"] == 10
    pipeline.wait_for("SELECT count() FROM ledger FINAL WHERE customer_id = 'dime-co'", 10)
    spent = pipeline.scalar("SELECT sum(cost) FROM ledger FINAL WHERE customer_id = 'dime-co'")
    assert spent == 10 * 10 * SMS

    def settled(r: httpx.Response) -> bool:
        return Decimal(r.json()["budgets"][0]["reserved"]) == 0

    standing = until(lambda: check(api, key, "dime-co", "0"), settled).json()
    assert Decimal(standing["budgets"][0]["reserved"]) == 0, standing
    assert Decimal(standing["budgets"][0]["spent"]) == spent
    assert Decimal(standing["remaining"]) == Decimal("1.00") - spent
    assert standing["budgets"][0]["spend_as_of"] is not None and standing["spend_age_s"] is not None
    assert check(api, key, "dime-co", "0.20").json()["allowed"]  # the $0.20 the calls did not use


def test_an_expired_reservation_frees_its_amount_and_a_released_one_at_once(
    pipeline: Pipeline, api: httpx.Client
) -> None:
    key = bearer(pipeline, "ttl-co", Scope.GATE)
    load_budget(pipeline, "ttl-day", "ttl-co", "1.00")
    wait_until_gated(api, key, "ttl-co", "ttl-day")

    assert check(api, key, "ttl-co", "0.90", ttl_s=1).json()["allowed"]
    assert not check(api, key, "ttl-co", "0.20").json()["allowed"]
    freed = until(lambda: check(api, key, "ttl-co", "0.20"), lambda r: r.json()["allowed"])
    assert freed.json()["allowed"], freed.text

    held = check(api, key, "ttl-co", "0.80").json()  # with the 0.20 above, all of it
    assert not check(api, key, "ttl-co", "0.01").json()["allowed"]
    released = api.delete(f"/v1/gate/reservations/{held['reservation_id']}", headers=key)
    assert released.json() == {"reservation_id": held["reservation_id"], "released": "0.80"}
    assert check(api, key, "ttl-co", "0.80").json()["allowed"]
    again = api.delete(f"/v1/gate/reservations/{held['reservation_id']}", headers=key)
    assert again.status_code == 404 and "settled, released or expired" in again.json()["error"]


def test_a_customer_bound_key_cannot_ask_about_another_customer(
    pipeline: Pipeline, api: httpx.Client
) -> None:
    acme_key = bearer(pipeline, "acme", Scope.GATE)
    refused = check(api, acme_key, "globex", "0.10")
    assert refused.status_code == 403
    assert refused.json() == {"error": "this key checks only customer 'acme', not 'globex'"}
    ingest_only = check(api, bearer(pipeline, "acme", Scope.INGEST), "acme", "0.10")
    assert ingest_only.status_code == 403 and "'gate' scope" in ingest_only.json()["error"]
    bad = check(api, acme_key, "acme", "-1")
    assert bad.status_code == 400 and bad.json()["error"].startswith("body.estimate")


async def ask_both(gate: GateClient) -> tuple[GateDecision, GateDecision]:
    hard = await gate.check(customer_id="sdk-co", agent_id="researcher", estimate=Decimal("0.10"))
    soft = await gate.check(customer_id="sdk-co", agent_id="writer", estimate=Decimal("0.10"))
    return hard, soft


def test_the_sdk_fails_closed_for_a_hard_budget_and_open_for_a_soft_one_once_the_api_stops(
    pipeline: Pipeline,
) -> None:
    key = bearer(pipeline, "sdk-co", Scope.GATE)
    load_budget(pipeline, "sdk-researcher", "sdk-co", "5", scope="customer_agent", agent_id="researcher")
    load_budget(pipeline, "sdk-writer", "sdk-co", "5", scope="customer_agent", agent_id="writer", kind="soft")

    async def agent_outliving_its_gate() -> list[tuple[GateDecision, GateDecision]]:
        with contextlib.ExitStack() as api:
            url = api.enter_context(in_thread(pipeline.settings, free_port()))
            with httpx.Client(base_url=url) as probe:
                wait_until_gated(probe, key, "sdk-co", "sdk-researcher")
            async with GateClient(url, key["Authorization"].removeprefix("Bearer "), timeout_s=0.5) as gate:
                live = await ask_both(gate)
                api.close()  # the API stops
                return [live, await ask_both(gate)]

    (live_hard, live_soft), (hard, soft) = asyncio.run(agent_outliving_its_gate())

    assert (live_hard.source, live_hard.fail_mode, live_soft.fail_mode) == ("gate", "closed", "open")
    assert (hard.allowed, hard.source) == (False, DecisionSource.GATE_UNREACHABLE)
    assert (soft.allowed, soft.source) == (True, DecisionSource.GATE_UNREACHABLE)
    assert (
        hard.reason.startswith("gate unreachable (")
        and "failing closed as budget sdk-researcher" in hard.reason
    )


@pytest.fixture()
def cold(services: Settings) -> Iterator[Pipeline]:
    p = Pipeline.create(services, "gatekill", api_key_cache_s=0.0)
    p.load_prices()
    yield p
    p.close()


def test_a_worker_killed_mid_stream_leaves_no_reservation_unsettled_and_no_spend_miscounted(
    cold: Pipeline,
) -> None:
    key = bearer(cold, "kill-co", Scope.GATE)
    load_budget(cold, "kill-day", "kill-co", "25")
    with api_client(cold) as api:
        wait_until_gated(api, key, "kill-co", "kill-day")
        # Held for 10 minutes: only the worker's settlement, not expiry, can free them in this test.
        held = [check(api, key, "kill-co", "0.10", ttl_s=600).json() for _ in range(200)]
        assert all(h["allowed"] for h in held)
        now = datetime.now(UTC)
        calls = [
            event(f"kill-{n}", customer="kill-co", agent="researcher", at=now, calls=10,
                  attributes={RESERVATION_ATTRIBUTE: h["reservation_id"]})
            for n, h in enumerate(held)
        ]  # fmt: skip
        cold.publish(calls, max_events=1)  # one event per message: batches land on both sides of the kill
        cold.start_worker(batch_max=5)
        deadline = time.monotonic() + 120
        while cold.scalar("SELECT count() FROM ledger") < len(calls) // 3:
            assert time.monotonic() < deadline, cold.workers_report()
            time.sleep(0.05)
        cold.kill_worker()
        assert cold.scalar("SELECT count() FROM ledger FINAL") < len(calls)
        cold.start_worker(batch_max=5)
        cold.wait_until_counted(len(calls), timeout=180)
        spent = cold.scalar("SELECT sum(cost) FROM ledger FINAL WHERE customer_id = 'kill-co'")
        assert spent == 200 * 10 * SMS

        def settled(r: httpx.Response) -> bool:
            return Decimal(r.json()["budgets"][0]["reserved"]) == 0

        standing = until(lambda: check(api, key, "kill-co", "0"), settled, timeout=120).json()
    assert Decimal(standing["budgets"][0]["reserved"]) == 0, standing
    assert Decimal(standing["budgets"][0]["spent"]) == spent
    assert Decimal(standing["remaining"]) == Decimal(25) - spent
