"""What the Alerts view makes of an alert: its contributors by kind and the events behind it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from costline.api.dashboard_views import alert_document, events_link
from schemas.alerts import Alert, AlertRule, AlertStatus, Contributor

DAY = datetime(2026, 11, 20, tzinfo=UTC)


def alert(scope: str = "customer", subject: str = "", contributors: tuple[Contributor, ...] = ()) -> Alert:
    return Alert(
        alert_id="a1", rule=AlertRule.BUDGET_THRESHOLD, status=AlertStatus.FIRING, customer_id="acme-corp",
        budget_id="acme-month", scope=scope, subject=subject, period_start=DAY.replace(day=1),
        period_end=DAY.replace(day=1) + timedelta(days=30), threshold=Decimal(80),
        observed={"spend": Decimal("80.5")}, top_contributors=list(contributors),
        reason="acme-corp spent 80 % of acme-month", occurred_at=DAY + timedelta(hours=9), emitted_at=DAY,
    )  # fmt: skip


def test_the_events_behind_a_budget_alert_are_its_customers_costs_over_its_period() -> None:
    query = parse_qs(urlsplit(events_link(alert())).query)
    assert urlsplit(events_link(alert())).path == "/v1/costs"
    assert query["customer"] == ["acme-corp"] and "agent" not in query
    assert query["from"] == ["2026-11-01T00:00:00+00:00"] and query["to"] == ["2026-12-01T00:00:00+00:00"]
    assert query["group_by"] == ["agent,category,window"]


def test_an_agent_budget_or_a_single_contributing_agent_narrows_the_events_to_that_agent() -> None:
    own = parse_qs(urlsplit(events_link(alert("customer_agent", "research-agent"))).query)
    assert own["agent"] == ["research-agent"]
    one = alert(contributors=(Contributor(kind="agent", id="support-bot", cost=Decimal(9)),))
    assert parse_qs(urlsplit(events_link(one)).query)["agent"] == ["support-bot"]


def test_contributors_are_listed_by_kind_with_exact_money() -> None:
    shown = alert_document(
        alert(contributors=(
            Contributor(kind="agent", id="support-bot", cost=Decimal("9.5")),
            Contributor(kind="model", id="gpt-4o", cost=Decimal("7.25")),
        ))
    )  # fmt: skip
    assert shown["contributors"] == {
        "agent": [{"id": "support-bot", "cost": "9.5"}],
        "model": [{"id": "gpt-4o", "cost": "7.25"}],
        "task": [],
    }
    assert shown["observed"] == {"spend": "80.5"} and shown["occurred_at"] == "2026-11-20T09:00:00+00:00"
