"""Spend control end to end: budgets loaded while the worker runs, alerts on the topic and in
ClickHouse, and none repeated after a SIGKILL mid-stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from costline.budgets import publish_and_record
from costline.config import Settings
from costline.dev.harness import Pipeline
from schemas.alerts import Alert, AlertRule
from schemas.budgets import Budget
from tests.factories import event


def load_budget(p: Pipeline, **fields: object) -> Budget:
    budget = Budget.model_validate({"period": "month", **fields})
    publish_and_record(p.settings, p.db, [budget])
    return budget


def wait_until_in_force(p: Pipeline, budget: Budget, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while f"budget {budget.budget_id} in force" not in Path(p.log_path).read_text(errors="replace"):
        assert time.monotonic() < deadline, p.workers_report()
        time.sleep(0.2)


def stored_alerts(p: Pipeline, customer: str) -> list[Alert]:
    rows = p.rows("SELECT payload FROM alerts FINAL WHERE customer_id = {c:String}", c=customer)
    return [Alert.model_validate_json(row[0]) for row in rows]


def wait_for_alerts(p: Pipeline, customer: str, count: int, timeout: float = 120) -> list[Alert]:
    p.wait_for("SELECT count() FROM alerts FINAL WHERE customer_id = {c:String}", count, timeout, c=customer)
    return stored_alerts(p, customer)


def topic_alerts(settings: Settings, quiet_s: float = 3.0) -> list[Alert]:
    """Every message on the alerts topic, read until it has been quiet for ``quiet_s``."""

    async def run() -> list[Alert]:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
        await consumer.start()
        try:
            tp = TopicPartition(settings.alerts_topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            found: list[Alert] = []
            while True:
                batches = await consumer.getmany(timeout_ms=int(quiet_s * 1000))
                if not batches:
                    return found
                for records in batches.values():
                    found += [Alert.model_validate_json(r.value) for r in records if r.value]
        finally:
            await consumer.stop()

    return asyncio.run(run())


def sms(n: int, customer: str, at: datetime, calls: int, request: str | None = None) -> object:
    """``calls`` text messages at $0.008 each."""
    return event(f"{customer}-{n}", customer=customer, at=at, calls=calls, request_id=request)


def test_400_spent_by_day_10_of_a_1000_month_projects_1200_and_alerts_at_the_default_burn_rate(
    pipeline: Pipeline,
) -> None:
    budget = load_budget(pipeline, budget_id="burn-monthly", customer_id="burn-co", amount="1000")
    wait_until_in_force(pipeline, budget)
    pipeline.publish([
        sms(1, "burn-co", datetime(2026, 11, 3, 12, tzinfo=UTC), 25_000),  # $200
        sms(2, "burn-co", datetime(2026, 11, 11, tzinfo=UTC), 25_000),  # $200 as day 10 ends
    ])  # fmt: skip

    alerts = wait_for_alerts(pipeline, "burn-co", 3)  # the burn rate, and each $200 request
    [burn] = [a for a in alerts if a.rule is AlertRule.BURN_RATE]
    assert burn.observed["spend"] == Decimal("400")
    assert burn.observed["projected"] == Decimal("1200")
    assert burn.threshold == Decimal(20)
    assert burn.budget_id == "burn-monthly" and burn.status == "firing"
    on_topic = [a for a in topic_alerts(pipeline.settings) if a.alert_id == burn.alert_id]
    assert on_topic and on_topic[0] == burn


def test_a_request_over_the_per_request_limit_alerts_with_its_request_id(pipeline: Pipeline) -> None:
    at = datetime(2026, 11, 20, 9, tzinfo=UTC)
    pipeline.publish(
        [sms(1, "limit-co", at, 50), sms(2, "limit-co", at, 100, request="req-42")]
    )  # $0.40, $0.80

    [alert] = wait_for_alerts(pipeline, "limit-co", 1)
    assert (alert.rule, alert.subject) == (AlertRule.REQUEST_COST, "req-42")
    assert alert.observed == {"cost": Decimal("0.8"), "limit": Decimal("0.5")}
    assert [(c.kind, c.id) for c in alert.top_contributors] == [
        ("agent", "support-bot"),
        ("model", "twilio-sms"),
    ]


@pytest.fixture()
def cold(services: Settings) -> Iterator[Pipeline]:
    p = Pipeline.create(services, "spendkill")
    p.load_prices()
    yield p
    p.close()


def test_no_alert_is_repeated_after_a_kill_nine_and_restart_mid_stream(cold: Pipeline) -> None:
    load_budget(cold, budget_id="fleet-monthly", customer_id="fleet-co", amount="40",
                thresholds=[10, 20, 30, 40, 50, 60, 70, 80, 90, 100])  # fmt: skip
    start = datetime(2026, 11, 20, 9, tzinfo=UTC)
    # 270 requests at $0.08 and 30 at $0.80 (each over the $0.50 limit): $45.60 in all.
    events = [
        sms(n, "fleet-co", start + timedelta(seconds=n), 100 if n % 10 == 0 else 10) for n in range(1, 301)
    ]
    cold.publish(events, max_events=1)  # one event per message: batches land on both sides of the kill
    cold.start_worker(batch_max=5)
    deadline = time.monotonic() + 120
    while cold.scalar("SELECT count() FROM ledger") < len(events) // 3:
        assert time.monotonic() < deadline, cold.workers_report()
        time.sleep(0.05)
    cold.kill_worker()
    assert cold.scalar("SELECT count() FROM ledger FINAL") < len(events)

    cold.start_worker(batch_max=5)
    cold.wait_until_counted(len(events), timeout=180)
    expected = 10 + 1 + 30  # each threshold, the burn rate, each $0.80 request
    alerts = wait_for_alerts(cold, "fleet-co", expected)
    assert cold.scalar("SELECT count(DISTINCT alert_id) FROM alerts") == expected
    assert sorted(a.rule for a in alerts).count(AlertRule.BUDGET_THRESHOLD) == 10
    delivered = topic_alerts(cold.settings)
    # At least once with a stable id: every alert reached the topic, and none under a second id.
    assert {a.alert_id for a in delivered} == {a.alert_id for a in alerts}
