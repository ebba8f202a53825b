"""Alerts: what crossed what, once, with an id a receiver can deduplicate by.

An alert's id is a hash of (rule, budget or customer, subject, period start,
threshold, status): the worker derives the same id every time it evaluates
the same events, across crashes, replays and rebalances. It is the key on
the ``costline.alerts`` topic, the row key of ClickHouse ``alerts``, and the
idempotency key a webhook sender passes on (as Stripe's and Lago's webhook
event ids): a receiver that has seen an id has seen that alert.

The JSON form (:meth:`Alert.payload`) is the record delivered everywhere;
amounts in it are decimal strings, never floats.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict

ALERT_SCHEMA_VERSION: Literal[1] = 1


class AlertRule(StrEnum):
    BUDGET_THRESHOLD = "budget_threshold"  # period spend reached a percentage of the budget
    BURN_RATE = "burn_rate"  # projected period spend exceeds the budget by the allowed excess
    REQUEST_COST = "request_cost"  # one request cost more than the limit
    REQUEST_TOKENS = "request_tokens"
    TASK_COST = "task_cost"  # one task's running total passed the limit
    TASK_TOKENS = "task_tokens"
    # Anomalies (streams/anomaly_rules.py): no budget needed, every customer's agents are watched.
    REQUEST_COST_ANOMALY = "request_cost_anomaly"  # a request above k x its agent's 30-day average
    HOURLY_SPIKE = "hourly_spike"  # spend this hour above the same hour of past weeks
    TOKEN_DRIFT = "token_drift"  # tokens per request of recent days above the weeks before
    MARGIN = "margin"  # the period's cost leaves less than the set margin of the plan's revenue


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


ContributorKind = Literal["agent", "model", "task"]


class Contributor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ContributorKind
    id: str
    cost: Decimal


class Alert(BaseModel):
    """One alert. ``observed`` holds the figures (spend, budget, projected, …) by name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = ALERT_SCHEMA_VERSION
    alert_id: str
    rule: AlertRule
    status: AlertStatus
    customer_id: str
    budget_id: str  # "" for a limit from the worker's settings
    scope: str  # a budget's scope kind, "request" / "task" for limits, "customer" / "agent" for anomalies
    subject: (
        str  # the agent, user or task the budget's spend is for ("" for the whole scope), the request or task
    )
    period_start: datetime
    period_end: datetime
    # percent of the budget, percent of excess, the limit, an anomaly's factor (k), the margin floor (%)
    threshold: Decimal
    observed: dict[str, Decimal]
    currency: str = "USD"
    top_contributors: list[Contributor] = []
    reason: str
    occurred_at: datetime  # event time of the event that changed the condition
    emitted_at: datetime

    def payload(self) -> bytes:
        return self.model_dump_json().encode()


def alert_id(
    rule: AlertRule, owner: str, subject: str, period_start: datetime, threshold: Decimal, status: AlertStatus
) -> str:
    """The deterministic id: the same condition changing the same way gives the same id."""
    parts = (str(rule), owner, subject, _isoformat(period_start), str(threshold.normalize()), str(status))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _isoformat(at: datetime) -> str:
    """``at.isoformat()``; in UTC, as orjson writes it (the same text, a quarter of the time)."""
    if type(at) is datetime and at.tzinfo is UTC:
        return orjson.dumps(at)[1:-1].decode()
    return at.isoformat()
