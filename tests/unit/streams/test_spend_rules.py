"""Budgets, burn rate and limits, evaluated event by event on the exactly-once path."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from schemas.alerts import Alert, AlertRule, AlertStatus
from schemas.budgets import Budget
from schemas.events import usage_event_adapter
from streams.aggregation import Counted
from streams.anomaly_rules import AnomalyRules, AnomalySettings
from streams.pricing import PricedEvent, TokenUsage
from streams.spend_rules import (
    _PLAIN,
    BudgetBook,
    Evaluation,
    LimitSettings,
    SpendRules,
    _first_seen,
    budget_rules,
)
from streams.spend_state import BudgetSpend, DetectorRecord, RulesMark, TaskTally
from tests.unit.streams.test_spend_golden import traffic as golden_traffic

NOW = datetime(2026, 11, 30, tzinfo=UTC)


class Records:
    """Worker state as the table holds it: encoded records, decoded fresh on every read."""

    def __init__(self) -> None:
        self.raw: dict[bytes, bytes] = {}
        self.marks: dict[int, RulesMark] = {}

    def budget(self, key: bytes) -> BudgetSpend | None:
        raw = self.raw.get(key)
        return BudgetSpend.decode(raw) if raw is not None else None

    def task(self, key: bytes) -> TaskTally | None:
        raw = self.raw.get(key)
        return TaskTally.decode(raw) if raw is not None else None

    def mark(self, partition: int) -> RulesMark:
        return RulesMark.decode(self.marks.get(partition, RulesMark()).encode())

    def detector(self, key: bytes) -> DetectorRecord | None:
        raw = self.raw.get(key)
        return DetectorRecord.decode(raw) if raw is not None else None

    def detector_raws(self, keys: list[bytes]) -> list[bytes | None]:
        return list(map(self.raw.get, keys))

    def apply(self, result: Evaluation) -> None:
        for key, record in [*result.budgets.items(), *result.tasks.items(), *result.detectors.items()]:
            self.raw[key] = record.encode()
        self.marks.update({p: RulesMark.decode(m.encode()) for p, m in result.marks.items()})


def monthly(amount: str = "1000", **fields: Any) -> Budget:
    return Budget.model_validate(
        {"budget_id": "acme-monthly", "customer_id": "acme", "period": "month", "amount": amount, **fields}
    )


def spend(n: int, cost: str, at: str, *, agent: str = "support-bot", task: str | None = None,
          tokens: int = 0, request: str | None = None) -> Counted:  # fmt: skip
    event = usage_event_adapter.validate_python(
        {"kind": "tool", "event_id": f"e{n}", "occurred_at": at, "customer_id": "acme", "agent_id": agent,
         "tool": "search", "calls": 1, "task_id": task, "request_id": request}
    )  # fmt: skip
    priced = PricedEvent(event, Decimal(cost), "v1", "search", "tavily", Decimal(1), "call",
                         TokenUsage(input=tokens))  # fmt: skip
    return (0, n << 16, priced)


def engine(*budgets: Budget, limits: LimitSettings | None = None) -> SpendRules:
    return SpendRules(
        BudgetBook(budgets),
        budget_rules(Decimal(20), Decimal(10)),
        limits or LimitSettings(request_cost=None, task_tokens=None),
        now=lambda: NOW,
    )


def run(rules: SpendRules, records: Records, batch: list[Counted]) -> Evaluation:
    result = rules.evaluate(batch, records)
    records.apply(result)
    return result


def test_a_thousand_dollar_month_with_400_spent_by_day_10_projects_1200_and_alerts_on_burn_rate() -> None:
    rules, records = engine(monthly(thresholds=[100])), Records()
    result = run(rules, records, [spend(1, "150", "2026-11-03T12:00:00Z"),
                                  spend(2, "250", "2026-11-11T00:00:00Z")])  # fmt: skip
    [alert] = result.alerts
    assert alert.rule is AlertRule.BURN_RATE and alert.status is AlertStatus.FIRING
    assert alert.observed["projected"] == Decimal("1200.00")
    assert alert.observed["limit"] == Decimal("1200.00")
    assert alert.observed["elapsed_percent"] == Decimal("33.33")
    assert alert.threshold == Decimal(20)
    assert alert.period_start == datetime(2026, 11, 1, tzinfo=UTC)
    assert alert.period_end == datetime(2026, 12, 1, tzinfo=UTC)
    assert [(c.kind, c.id, c.cost) for c in alert.top_contributors][:2] == [
        ("agent", "support-bot", Decimal(400)), ("model", "search", Decimal(400))
    ]  # fmt: skip


def test_burn_rate_waits_for_a_tenth_of_the_period() -> None:
    rules, records = engine(monthly(thresholds=[100])), Records()
    # $200 on day 2 would project $3,000, but two days of a month say little.
    assert run(rules, records, [spend(1, "200", "2026-11-02T00:00:00Z")]).alerts == []


def test_thresholds_fire_once_each_and_a_replayed_batch_fires_nothing() -> None:
    rules, records = engine(monthly(burn_rate_excess=1000)), Records()
    batch = [spend(1, "499.99", "2026-11-20T09:00:00Z"), spend(2, "0.01", "2026-11-20T10:00:00Z"),
             spend(3, "300", "2026-11-20T11:00:00Z")]  # fmt: skip
    first = run(rules, records, batch)
    assert [(a.rule, a.threshold) for a in first.alerts] == [
        (AlertRule.BUDGET_THRESHOLD, Decimal(50)), (AlertRule.BUDGET_THRESHOLD, Decimal(80))
    ]  # fmt: skip
    assert first.alerts[0].observed["spend"] == Decimal("500.00")
    assert run(rules, records, batch).alerts == []  # the same positions again: already counted
    more = run(rules, records, [spend(4, "400", "2026-11-21T09:00:00Z")])
    assert [a.threshold for a in more.alerts] == [Decimal(100)]


def test_alert_ids_do_not_depend_on_how_the_stream_was_batched() -> None:
    events = [spend(n, "120", f"2026-11-{10 + n}T09:00:00Z") for n in range(1, 10)]
    whole = run(engine(monthly()), Records(), events).alerts
    records, rules = Records(), engine(monthly())
    pieces = [a for i in range(0, 9, 2) for a in run(rules, records, events[i : i + 2]).alerts]
    assert [a.alert_id for a in pieces] == [a.alert_id for a in whole]
    assert [a.payload() for a in pieces] == [a.payload() for a in whole]


def test_a_new_period_resolves_what_fired_in_the_last_one() -> None:
    rules, records = engine(monthly(thresholds=[50], burn_rate_excess=1000)), Records()
    [fired] = run(rules, records, [spend(1, "600", "2026-11-20T09:00:00Z")]).alerts
    [resolved] = run(rules, records, [spend(2, "1", "2026-12-01T09:00:00Z")]).alerts
    assert resolved.status is AlertStatus.RESOLVED and resolved.alert_id != fired.alert_id
    assert resolved.period_start == fired.period_start == datetime(2026, 11, 1, tzinfo=UTC)
    assert resolved.observed["spend"] == Decimal(600)


def test_a_correction_that_lowers_spend_resolves_the_threshold() -> None:
    rules, records = engine(monthly(thresholds=[50], burn_rate_excess=1000)), Records()
    run(rules, records, [spend(1, "600", "2026-11-20T09:00:00Z")])
    [resolved] = run(rules, records, [spend(2, "-200", "2026-11-20T10:00:00Z")]).alerts
    assert (resolved.rule, resolved.status) == (AlertRule.BUDGET_THRESHOLD, AlertStatus.RESOLVED)


def test_an_agent_budget_keeps_each_agents_spend_apart() -> None:
    budget = monthly("100", scope="agent", thresholds=[100], burn_rate_excess=1000)
    rules, records = engine(budget), Records()
    result = run(rules, records, [spend(1, "60", "2026-11-20T09:00:00Z", agent="a"),
                                  spend(2, "60", "2026-11-20T09:00:00Z", agent="b"),
                                  spend(3, "60", "2026-11-20T10:00:00Z", agent="a")])  # fmt: skip
    [alert] = result.alerts
    assert alert.subject == "a" and alert.observed["spend"] == Decimal(120)


def test_a_rolling_budget_sums_its_last_hours_and_resolves_as_they_pass() -> None:
    budget = monthly("100", period="rolling_hours", hours=2, thresholds=[100])
    rules, records = engine(budget), Records()
    [fired] = run(rules, records, [spend(1, "70", "2026-11-20T09:10:00Z"),
                                   spend(2, "40", "2026-11-20T10:50:00Z")]).alerts  # fmt: skip
    assert fired.observed["spend"] == Decimal(110)
    assert fired.period_start == datetime(2026, 11, 20, 9, tzinfo=UTC)
    [resolved] = run(rules, records, [spend(3, "1", "2026-11-20T11:05:00Z")]).alerts
    assert resolved.status is AlertStatus.RESOLVED and resolved.observed["spend"] == Decimal(41)


def test_a_request_over_fifty_cents_alerts_and_one_at_fifty_does_not() -> None:
    rules, records = engine(limits=LimitSettings()), Records()
    result = run(rules, records, [spend(1, "0.50", "2026-11-20T09:00:00Z"),
                                  spend(2, "0.51", "2026-11-20T09:00:01Z", request="req-7")])  # fmt: skip
    [alert] = result.alerts
    assert (alert.rule, alert.subject, alert.threshold) == (AlertRule.REQUEST_COST, "req-7", Decimal("0.50"))
    assert alert.budget_id == ""
    assert run(rules, records, [spend(2, "0.51", "2026-11-20T09:00:01Z", request="req-7")]).alerts == []


def test_a_task_over_5000_inference_tokens_alerts_once() -> None:
    rules, records = engine(limits=LimitSettings()), Records()
    batch = [spend(n, "0.01", "2026-11-20T09:00:00Z", task="t-1", tokens=2000) for n in range(1, 5)]
    [alert] = run(rules, records, batch).alerts
    assert (alert.rule, alert.subject, alert.observed["tokens"]) == (AlertRule.TASK_TOKENS, "t-1", 6000)


def test_a_budgets_own_limit_overrides_the_setting() -> None:
    budget = monthly(limits={"request_cost": "2.00"})
    rules, records = engine(budget, limits=LimitSettings()), Records()
    assert run(rules, records, [spend(1, "1.00", "2026-11-20T09:00:00Z")]).alerts == []
    [alert] = run(rules, records, [spend(2, "2.50", "2026-11-20T09:00:00Z")]).alerts
    assert alert.budget_id == "acme-monthly" and alert.threshold == Decimal(2)


def test_without_budgets_the_batch_folds_as_event_by_event() -> None:
    """With no budget loaded the marks and limits are read off the batch's columns; they give what the
    event-by-event loop (run when some other customer has a budget) gives: replays, tasks, late events."""
    outcomes = []
    elsewhere = Budget.model_validate({"budget_id": "other", "customer_id": "nobody", "period": "month",
                                       "amount": "10"})  # fmt: skip
    for book in (BudgetBook(), BudgetBook([elsewhere])):
        rules = SpendRules(
            book,
            budget_rules(Decimal(20), Decimal(10)),
            LimitSettings(request_cost=Decimal("0.03"), request_tokens=1300, task_tokens=9000),
            now=lambda: NOW,
            anomalies=AnomalyRules(AnomalySettings()),
        )
        records, alerts, start, n = Records(), [], 0, 0
        events = golden_traffic()
        while start < len(events):
            size, n = (1, 40, 250, 600)[n % 4], n + 1
            batch = events[max(0, start - size // 2) if n % 5 == 4 else start : start + size]  # 4: a replay
            result = rules.evaluate(batch, records)
            records.apply(result)
            alerts += [(alert.alert_id, alert.payload()) for alert in result.alerts]
            start += size
        outcomes.append((alerts, records.raw, {p: m.encode() for p, m in records.marks.items()}))
    assert outcomes[0] == outcomes[1]
    fired = {str(alert.rule) for alert in (Alert.model_validate_json(raw) for _, raw in outcomes[0][0])}
    assert fired >= {"request_cost", "request_tokens", "task_tokens", "request_cost_anomaly", "hourly_spike"}


def test_a_request_costing_past_int64_pico_dollars_is_over_the_request_limit_as_any_other() -> None:
    """The limits pick the events over them from an int64 array of their pico-dollars, or, where a cost
    is past int64 (9.2 million USD), from the Python ints."""
    rules = engine(limits=LimitSettings(request_cost=Decimal("0.50"), request_tokens=1000))
    batch = [spend(1, "10000000.25", "2026-11-20T09:00:00Z", request="req-big"),
             spend(2, "0.10", "2026-11-20T09:00:01Z", request="req-small"),
             spend(3, "0.60", "2026-11-20T09:00:02Z", request="req-over", tokens=1001)]  # fmt: skip
    alerts = run(rules, Records(), batch).alerts
    assert [(a.rule, a.subject) for a in alerts] == [
        (AlertRule.REQUEST_COST, "req-big"), (AlertRule.REQUEST_COST, "req-over"),
        (AlertRule.REQUEST_TOKENS, "req-over")]  # fmt: skip


def test_limit_alerts_constructed_unvalidated_equal_their_validated_form() -> None:
    """The limits' alerts are built without validation (thousands a batch on a busy fleet; not even
    ``model_construct``'s look at each field): each is the alert validation makes of the same fields,
    object, field set and payload alike."""
    assert _PLAIN  # the models are ones their objects can be made for straight away
    rules = engine(limits=LimitSettings(request_cost=Decimal("0.50"), request_tokens=1000,
                                        task_cost=Decimal("0.70"), task_tokens=1100))  # fmt: skip
    batch = [spend(1, "0.51", "2026-11-20T09:00:00Z", request="req-7", tokens=1200, task="t-1"),
             spend(2, "0.60", "2026-11-20T09:00:01+02:00", agent="bot-2", task="t-1", tokens=40)]  # fmt: skip
    alerts = run(rules, Records(), batch).alerts
    assert {a.rule for a in alerts} == {AlertRule.REQUEST_COST, AlertRule.REQUEST_TOKENS, AlertRule.TASK_COST,
                                        AlertRule.TASK_TOKENS}  # fmt: skip
    for alert in alerts:
        given = {name: value for name, value in alert if name not in ("schema_version", "currency")}
        validated = Alert.model_validate(given)
        assert alert == validated
        assert alert.model_fields_set == validated.model_fields_set
        assert list(alert.__dict__) == list(validated.__dict__)  # the fields in the model's order
        assert (alert.__pydantic_extra__, alert.__pydantic_private__) == (
            validated.__pydantic_extra__, validated.__pydantic_private__)  # fmt: skip
        for mine, theirs in zip(alert.top_contributors, validated.top_contributors, strict=True):
            assert mine == theirs and mine.model_fields_set == theirs.model_fields_set
        assert alert.payload() == validated.payload()
        assert [c.model_dump() for c in alert.top_contributors] == [
            c.model_dump() for c in validated.top_contributors
        ]


@pytest.mark.parametrize("seed", range(10))
def test_a_batch_s_partitions_are_marked_in_the_order_they_first_come(seed: int) -> None:
    """The limits' marks are made partition by partition as the events first name them: the heads of
    the partitions' runs say that order, as all the events do."""
    rng = random.Random(seed)
    runs = [[rng.randrange(8)] * rng.choice((1, 2, 500)) for _ in range(rng.choice((0, 1, 5, 40)))]
    partitions = [p for run in runs for p in run]
    assert _first_seen(np.array(partitions, np.int64)) == list(dict.fromkeys(partitions))
