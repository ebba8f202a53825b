"""Anomalies and margin, evaluated with the spend rules on the exactly-once path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from schemas.alerts import AlertRule, AlertStatus
from schemas.budgets import Budget
from streams.aggregation import Counted
from streams.anomalies import HourlySpikeSettings, RequestCostSettings
from streams.anomaly_rules import AnomalyRules, AnomalySettings
from streams.spend_rules import BudgetBook, LimitSettings, SpendRules, budget_rules
from tests.unit.streams.test_spend_rules import NOW, Records, run, spend

START = datetime(2026, 11, 2, 9, tzinfo=UTC)


def watching(*budgets: Budget, request: bool = True, hourly: bool = False, drift: bool = False) -> SpendRules:
    settings = AnomalySettings(
        request_cost=RequestCostSettings() if request else None,
        hourly=HourlySpikeSettings() if hourly else None,
        token_drift=None,
    )
    return SpendRules(
        BudgetBook(budgets),
        budget_rules(Decimal(20), Decimal(10), Decimal(20)),
        LimitSettings(request_cost=None, task_tokens=None),
        now=lambda: NOW,
        anomalies=AnomalyRules(settings),
    )


def history(first: int = 1, count: int = 60, cost: str = "0.01") -> list[Counted]:
    """``count`` requests of the support bot at ``cost`` each, spread over three days."""
    return [
        spend(n, cost, f"{START + timedelta(hours=n):%Y-%m-%dT%H:%M:%SZ}", request=f"r{n}")
        for n in range(first, first + count)
    ]


def at(n: int) -> str:
    return f"{START + timedelta(hours=n):%Y-%m-%dT%H:%M:%SZ}"


def test_a_3_cent_request_against_a_1_cent_average_alerts_and_a_1_9_cent_one_does_not() -> None:
    rules, records = watching(), Records()
    assert run(rules, records, history()).alerts == []
    assert run(rules, records, [spend(61, "0.019", at(61), request="r61")]).alerts == []
    [alert] = run(rules, records, [spend(62, "0.03", at(62), request="r62")]).alerts

    assert (alert.rule, alert.status, alert.scope, alert.subject) == (
        AlertRule.REQUEST_COST_ANOMALY, AlertStatus.FIRING, "request", "r62"
    )  # fmt: skip
    assert alert.threshold == Decimal(2)
    assert alert.observed["cost"] == Decimal("0.03")
    assert alert.observed["average"] == Decimal("0.010147540984")  # (60 x 0.01 + 0.019) / 61
    assert [(c.kind, c.id) for c in alert.top_contributors] == [("agent", "support-bot"), ("model", "search")]


def test_no_request_anomaly_before_the_agent_has_fifty_requests() -> None:
    rules, records = watching(), Records()
    run(rules, records, history(count=49))
    assert run(rules, records, [spend(50, "1.00", at(50))]).alerts == []


def test_each_agent_is_held_to_its_own_average() -> None:
    rules, records = watching(), Records()
    run(rules, records, history())
    # A first request of another agent has no history: it is not judged against the bot's.
    assert run(rules, records, [spend(61, "0.05", at(61), agent="research")]).alerts == []


def test_a_replayed_batch_fires_nothing_twice_and_the_state_survives_encoding() -> None:
    rules, records = watching(), Records()
    run(rules, records, history())
    batch = [spend(61, "0.03", at(61), request="r61"), spend(62, "0.01", at(62))]
    first = run(rules, records, batch).alerts
    assert len(first) == 1
    assert run(rules, records, batch).alerts == []  # positions already folded: counted once

    fresh = Records()  # the same events, cut into other batches, from encoded state each time
    for piece in (history()[:7], history()[7:], batch):
        again = run(watching(), fresh, piece).alerts
    assert [a.alert_id for a in again] == [a.alert_id for a in first]


def test_a_runaway_hour_fires_once_and_resolves_when_the_spend_is_back_to_normal() -> None:
    rules, records = watching(request=False, hourly=True), Records()
    monday = datetime(2026, 11, 2, tzinfo=UTC)
    n = 0
    normal = []
    for day in range(14):  # two weeks of $1 an hour, one event every 10 minutes
        for minute in range(0, 24 * 60, 10):
            n += 1
            when = monday + timedelta(days=day, minutes=minute)
            normal.append(spend(n, "0.1666", f"{when:%Y-%m-%dT%H:%M:%SZ}"))
    assert run(rules, records, normal).alerts == []

    loop_start = monday + timedelta(days=14, hours=10)
    loop = [spend(n + i, "0.50", f"{loop_start + timedelta(seconds=30 * i):%Y-%m-%dT%H:%M:%SZ}")
            for i in range(1, 60)]  # fmt: skip
    fired = run(rules, records, loop).alerts
    assert {(a.rule, a.status, a.scope) for a in fired} == {
        (AlertRule.HOURLY_SPIKE, AlertStatus.FIRING, "customer"),
        (AlertRule.HOURLY_SPIKE, AlertStatus.FIRING, "agent"),
    }
    assert all(a.period_start == loop_start for a in fired)
    assert fired[0].top_contributors[0].id == "support-bot"

    later = loop_start + timedelta(hours=2, minutes=30)
    calm = run(rules, records, [spend(n + 100, "0.01", f"{later:%Y-%m-%dT%H:%M:%SZ}")]).alerts
    assert {a.status for a in calm} == {AlertStatus.RESOLVED}
    assert sorted(a.alert_id for a in calm) != sorted(a.alert_id for a in fired)
    assert {a.period_start for a in calm} == {loop_start}


def customer_plan(**fields: object) -> Budget:
    return Budget.model_validate(
        {"budget_id": "acme-plan", "customer_id": "acme", "period": "month", "amount": "1000",
         "thresholds": [1000], "revenue": "100", **fields}
    )  # fmt: skip


def test_cost_of_81_on_a_100_plan_leaves_19_percent_and_alerts_below_the_20_percent_margin() -> None:
    rules, records = watching(customer_plan(), request=False), Records()
    assert run(rules, records, [spend(1, "80", "2026-11-10T09:00:00Z")]).alerts == []  # exactly 20 %
    [alert] = run(rules, records, [spend(2, "1", "2026-11-10T10:00:00Z")]).alerts
    assert (alert.rule, alert.status, alert.threshold) == (AlertRule.MARGIN, AlertStatus.FIRING, Decimal(20))
    assert alert.observed["margin_pct"] == Decimal("19.00")
    assert alert.observed["revenue"] == Decimal(100) and alert.observed["cost"] == Decimal(81)
    assert "margin of 19.00%, below 20%" in alert.reason


def test_the_margin_alert_resolves_when_the_month_ends_and_when_the_plan_is_raised() -> None:
    plan = customer_plan(min_margin_pct=50)
    rules, records = watching(plan, request=False), Records()
    [fired] = run(rules, records, [spend(1, "60", "2026-11-10T09:00:00Z")]).alerts
    [ended] = run(rules, records, [spend(2, "1", "2026-12-01T00:00:00Z")]).alerts
    assert (ended.status, ended.period_start) == (AlertStatus.RESOLVED, fired.period_start)

    run(rules, records, [spend(3, "59", "2026-12-02T00:00:00Z")])
    rules.book.put(customer_plan(min_margin_pct=50, revenue="200"))
    [raised] = run(rules, records, [spend(4, "1", "2026-12-03T00:00:00Z")]).alerts
    assert (raised.rule, raised.status) == (AlertRule.MARGIN, AlertStatus.RESOLVED)
    assert "back at or above 50%" in raised.reason
