"""The dashboard's reads: window snapshots and rollups from ``cost_windows``, never the ledger,
so a year of history for many customers stays a small scan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from costline.api.dashboard_figures import Filters, SeriesQuery, Spend, day_start, month_start, projected
from costline.clickhouse import read_query


@dataclass(frozen=True, slots=True)
class Point:
    series: str
    window_start: datetime
    cost: Decimal


@dataclass(frozen=True, slots=True)
class Top:
    customer_id: str
    agent_id: str  # "" when ranking customers
    cost: Decimal
    events: int


def _filters(filters: Filters) -> dict[str, Any]:
    return {
        "customer": filters.customer,
        "agent": filters.agent,
        "category": filters.category,
        "model": filters.model,
    }


def series(client: Client, query: SeriesQuery) -> list[Point]:
    parameters = {
        "group": query.group,
        "size": query.window_s,
        "from": query.start,
        "to": query.end,
        "rollup": query.rollup,
        **_filters(query.filters),
    }
    name = "dashboard_model_series" if query.by_model else "dashboard_series"
    rows = client.query(read_query(name), parameters=parameters).result_rows
    return [Point(name, start.replace(tzinfo=UTC), cost) for name, start, cost in rows]


def spend(client: Client, filters: Filters, at: datetime) -> Spend:
    """Spend today and this month up to ``at`` (whole hours: the current hour's window counts)."""
    until = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    parameters = {
        "day": day_start(at),
        "month": month_start(at),
        "at": until,
        "rollup": filters.rollup,
        **_filters(filters),
    }
    name = "dashboard_model_spend" if filters.model else "dashboard_spend"
    today, month = client.query(read_query(name), parameters=parameters).result_rows[0]
    return Spend(today=today, month=month, projected=projected(month, at))


def top(
    client: Client, group: str, start: datetime, end: datetime, filters: Filters, limit: int
) -> list[Top]:
    parameters = {
        "group": group,
        "from": start,
        "to": end,
        "rollup": group == "customer" and filters.rollup,
        "limit": limit,
        **_filters(filters),
    }
    if filters.model and group == "agent":
        return []  # the rollup by model has no agent
    name = "dashboard_model_top" if filters.model else "dashboard_top"
    rows = client.query(read_query(name), parameters=parameters).result_rows
    return [Top(customer, agent, cost, int(events)) for customer, agent, cost, events in rows]


@dataclass(frozen=True, slots=True)
class DeadLetterSample:
    failed_at: datetime
    message_key: str
    reason: str
    payload: str


@dataclass(frozen=True, slots=True)
class DeadLetterCode:
    code: str
    letters: int
    latest: datetime
    samples: list[DeadLetterSample]


def dead_letters(client: Client, customer: str, per_code: int, payload_chars: int) -> list[DeadLetterCode]:
    """Counts by code, newest first within a code, with ``per_code`` samples each."""
    samples: dict[str, list[DeadLetterSample]] = {}
    parameters = {"customer": customer, "per_code": per_code, "payload_chars": payload_chars}
    for code, failed_at, key, reason, payload in client.query(
        read_query("dashboard_dead_letter_samples"), parameters=parameters
    ).result_rows:
        sample = DeadLetterSample(failed_at.replace(tzinfo=UTC), key, reason, payload)
        samples.setdefault(code, []).append(sample)
    counts = client.query(read_query("dashboard_dead_letter_counts"), parameters={"customer": customer})
    return [
        DeadLetterCode(code, int(letters), latest.replace(tzinfo=UTC), samples.get(code, []))
        for code, letters, latest in counts.result_rows
    ]


@dataclass(frozen=True, slots=True)
class AgentCategory:
    """One agent's cost, events and delivered value in one category over a range."""

    customer_id: str
    agent_id: str
    category: str
    cost: Decimal
    events: int
    outcome_value: Decimal
    failed_outcomes: int


def agent_categories(client: Client, start: datetime, end: datetime, filters: Filters) -> list[AgentCategory]:
    """Per (customer, agent, category), from the 1-hour agent windows (never the rollups)."""
    parameters = {"from": start, "to": end, **_filters(filters)}
    rows = client.query(read_query("dashboard_agent_categories"), parameters=parameters).result_rows
    return [
        AgentCategory(customer, agent, category, cost, int(events), value, int(failed))
        for customer, agent, category, cost, events, value, failed in rows
    ]


def monthly_cost(
    client: Client, customer: str, start: datetime, end: datetime
) -> dict[tuple[int, int], Decimal]:
    """A customer's cost per (year, month) over [start, end), from its rollups."""
    parameters = {"customer": customer, "from": start, "to": end}
    rows = client.query(read_query("dashboard_months"), parameters=parameters).result_rows
    return {(month.year, month.month): cost for month, cost in rows}
