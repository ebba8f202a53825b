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
from streams.anomalies import RequestCostHistory
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

    # The burn rate, each $200 request over the limit, and the second $200 as an hourly spike
    # (of the customer and of its agent) against the same hour of the seven days before, all $0.
    alerts = wait_for_alerts(pipeline, "burn-co", 5)
    assert sorted(a.rule for a in alerts).count(AlertRule.HOURLY_SPIKE) == 2
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


def gpt4o(n: int, customer: str, at: datetime, input_tokens: int) -> object:
    """A gpt-4o request of ``input_tokens`` prompt tokens and no output: $0.0025 per thousand."""
    return event(f"{customer}-{n}", "llm", customer=customer, at=at, input_tokens=input_tokens,
                 output_tokens=0, request_id=f"{customer}-req-{n}")  # fmt: skip


def test_a_3_cent_request_against_a_1_cent_average_alerts_and_a_1_9_cent_one_does_not(
    pipeline: Pipeline,
) -> None:
    start = datetime(2026, 11, 9, tzinfo=UTC)
    # Sixty $0.01 requests over three days: enough history (50 requests, 3 days) to be judged.
    history = [gpt4o(n, "avg-co", start + timedelta(hours=n), 4000) for n in range(1, 61)]
    pipeline.publish([*history, gpt4o(61, "avg-co", start + timedelta(hours=61), 7600),  # $0.019
                      gpt4o(62, "avg-co", start + timedelta(hours=62), 12_000)])  # $0.03  # fmt: skip

    [alert] = wait_for_alerts(pipeline, "avg-co", 1)
    assert (alert.rule, alert.subject) == (AlertRule.REQUEST_COST_ANOMALY, "avg-co-req-62")
    assert alert.observed["cost"] == Decimal("0.03")
    assert alert.observed["average"] == Decimal("0.010147540984")  # the $0.019 one counted, not alerted
    assert alert.threshold == Decimal(2) and alert.status == "firing"
    assert pipeline.scalar("SELECT count() FROM ledger FINAL WHERE customer_id = 'avg-co'") == 62
    on_topic = [a for a in topic_alerts(pipeline.settings) if a.alert_id == alert.alert_id]
    assert on_topic and on_topic[0] == alert


def test_cost_over_80_of_a_100_plan_alerts_on_margin_and_the_next_month_resolves_it(
    pipeline: Pipeline,
) -> None:
    budget = load_budget(pipeline, budget_id="margin-plan", customer_id="margin-co", amount="1000",
                         thresholds=[1000], revenue="100")  # fmt: skip
    wait_until_in_force(pipeline, budget)
    november = datetime(2026, 11, 10, tzinfo=UTC)
    # 160 x $0.496 + 2 x $0.32 = $80.00 leaves exactly 20 %: no alert; $0.40 more leaves 19.6 %.
    pipeline.publish([*[sms(n, "margin-co", november + timedelta(minutes=n), 62) for n in range(1, 161)],
                      sms(161, "margin-co", november + timedelta(hours=3), 40),
                      sms(162, "margin-co", november + timedelta(hours=3, minutes=1), 40),
                      sms(163, "margin-co", november + timedelta(hours=4), 50),
                      sms(164, "margin-co", datetime(2026, 12, 1, 1, tzinfo=UTC), 1)])  # fmt: skip

    fired, resolved = sorted(wait_for_alerts(pipeline, "margin-co", 2), key=lambda a: a.status)
    assert (fired.rule, fired.status, resolved.status) == (AlertRule.MARGIN, "firing", "resolved")
    assert fired.observed["margin_pct"] == Decimal("19.60") and fired.threshold == Decimal(20)
    assert fired.observed["cost"] == Decimal("80.40") and fired.observed["revenue"] == Decimal(100)
    assert fired.occurred_at == november + timedelta(hours=4)
    assert resolved.period_start == fired.period_start == datetime(2026, 11, 1, tzinfo=UTC)
    assert resolved.occurred_at == datetime(2026, 12, 1, 1, tzinfo=UTC)


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
    # Another customer's agent, every half hour over six days: $0.08, and $0.24 every tenth request,
    # three times its average once it has history. Its detectors' state must outlive the kill.
    watched = [(start - timedelta(days=7) + timedelta(minutes=30 * n), 30 if n % 10 == 0 else 10)
               for n in range(1, 301)]  # fmt: skip
    events += [sms(n, "watched-co", at, calls) for n, (at, calls) in enumerate(watched, 1)]
    cold.publish(events, max_events=1)  # one event per message: batches land on both sides of the kill
    cold.start_worker(batch_max=5)
    deadline = time.monotonic() + 120
    while cold.scalar("SELECT count() FROM ledger") < len(events) // 3:
        assert time.monotonic() < deadline, cold.workers_report()
        time.sleep(0.05)
    cold.kill_worker()
    assert cold.scalar("SELECT count() FROM ledger FINAL") < len(events)

    cold.start_worker(batch_max=5)
    cold.wait_until_counted(len(events), timeout=240)
    expected = 10 + 1 + 30  # each threshold, the burn rate, each $0.80 request
    alerts = wait_for_alerts(cold, "fleet-co", expected)
    assert sorted(a.rule for a in alerts).count(AlertRule.BUDGET_THRESHOLD) == 10
    history = RequestCostHistory("watched")
    anomalous = {
        f"watched-co-{n}"
        for n, (at, calls) in enumerate(watched, 1)
        if history.observe(at, Decimal("0.008") * calls).fired
    }
    assert len(anomalous) > 10  # the detector's own verdicts, uninterrupted
    found = wait_for_alerts(cold, "watched-co", len(anomalous))
    assert {a.subject for a in found} == anomalous
    assert {a.rule for a in found} == {AlertRule.REQUEST_COST_ANOMALY}
    assert cold.scalar("SELECT count(DISTINCT alert_id) FROM alerts") == expected + len(anomalous)
    delivered = topic_alerts(cold.settings)
    # At least once with a stable id: every alert reached the topic, and none under a second id.
    assert {a.alert_id for a in delivered} == {a.alert_id for a in [*alerts, *found]}
