"""The dashboard's Agents and Alerts views (``/v1/dashboard/agents``, ``/v1/dashboard/alerts``).

Agents: the task figures are :func:`billing.economics.economics` by agent, the very report
``costline economics --by agent`` and ``/v1/economics`` print, so the page cannot disagree with
them; the value delivered and the breakdown by layer come from the 1-hour agent windows. Revenue
and margin are the operator's business: a customer-bound key gets its own agents without them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, get_args
from urllib.parse import urlencode

from clickhouse_connect.driver.client import Client
from fastapi import APIRouter, Depends, Query, Request

from billing import economics_store
from billing.economics import EconomicsReport, EconomicsRow, economics
from billing.exceptions import BillingError
from billing.periods import Period
from costline.alerts import list_alerts
from costline.api import dashboard_store
from costline.api.dashboard_figures import LAYER_NAMES, LAYERS, Filters, ratio, share_pct
from costline.api.dashboard_scope import customer_for, money, optional_money, utc
from costline.api.dashboard_store import AgentCategory
from costline.api.keys import ApiKey, Scope
from costline.api.service import ApiError, authenticated, service_of
from schemas.alerts import Alert, ContributorKind

router = APIRouter()
MAX_ALERTS = 500
CONTRIBUTOR_KINDS: tuple[str, ...] = get_args(ContributorKind)


@router.get(
    "/v1/dashboard/agents",
    summary="The dashboard's Agents view: cost per successful task, success, value against cost, layers",
    tags=["dashboard"],
    responses={400: {"description": "an invalid month"}, 403: {"description": "another customer"}},
)
async def agents_view(
    request: Request,
    key: Annotated[ApiKey, Depends(authenticated(Scope.READ))],
    month: Annotated[str, Query(description="the month, as 2026-11")],
    customer: str = "",
    agent: str = "",
) -> dict[str, Any]:
    who = customer_for(key, customer)
    try:
        period = Period.parse(month)
    except BillingError as exc:
        raise ApiError(400, str(exc)) from None
    filters = Filters(customer=who, agent=agent)

    def read(client: Client) -> tuple[EconomicsReport, list[AgentCategory]]:
        report = economics(economics_store.read(client, period), "agent")
        return report, dashboard_store.agent_categories(client, period.start, period.end, filters)

    report, categories = await service_of(request).read(read)
    layers, value = _by_agent(categories)
    rows = [
        _agent_row(row, layers[row.customer_id, row.agent_id], value[row.customer_id, row.agent_id], key)
        for row in report.rows
        if row.agent_id is not None and filters.holds(row.customer_id, row.agent_id)
    ]
    return {"customer": key.customer_id, "period": period.label, "currency": report.currency,
            "layers": list(LAYER_NAMES), "agents": rows}  # fmt: skip


Agent = tuple[str, str]
Layers = dict[str, Decimal]


def _by_agent(categories: list[AgentCategory]) -> tuple[dict[Agent, Layers], dict[Agent, Decimal]]:
    """Each agent's cost per layer (every layer listed, 0 when idle) and its outcomes' value."""
    layers: dict[Agent, Layers] = defaultdict(lambda: dict.fromkeys(LAYER_NAMES, Decimal(0)))
    value: dict[Agent, Decimal] = defaultdict(Decimal)
    for row in categories:
        layers[row.customer_id, row.agent_id][LAYERS.get(row.category, row.category)] += row.cost
        value[row.customer_id, row.agent_id] += row.outcome_value
    return layers, value


def _agent_row(row: EconomicsRow, layers: dict[str, Decimal], value: Decimal, key: ApiKey) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "customer": row.customer_id,
        "agent": row.agent_id,
        "cost": money(row.cost),
        "tasks": row.tasks,
        "successful_tasks": row.successful_tasks,
        "success_pct": optional_money(share_pct(row.successful_tasks, row.tasks)),
        "task_cost": money(row.task_cost),
        "cost_per_successful_task": optional_money(row.cost_per_successful_task),
        "value": money(value),
        "value_per_cost": optional_money(ratio(value, row.cost)),
        "layers": {name: money(cost) for name, cost in layers.items()},
    }
    if key.customer_id is None:
        figures |= {"revenue": money(row.revenue), "margin": money(row.margin)}
    return figures


@router.get(
    "/v1/dashboard/alerts",
    summary="The dashboard's Alerts and anomalies: a timeline with contributors and the events behind each",
    tags=["dashboard"],
    responses={400: {"description": "an empty range"}, 403: {"description": "another customer"}},
)
async def alerts_view(
    request: Request,
    key: Annotated[ApiKey, Depends(authenticated(Scope.READ))],
    start: Annotated[datetime, Query(alias="from", description="start of the range, inclusive")],
    end: Annotated[datetime, Query(alias="to", description="end of the range, exclusive")],
    customer: str = "",
    agent: str = "",
    model: str = "",
) -> dict[str, Any]:
    who = customer_for(key, customer)
    start, end = utc(start), utc(end)
    if end <= start:
        raise ApiError(400, "the range is empty: 'to' must be after 'from'")
    # Alerts are listed by when they were emitted: a replayed day's alerts are emitted later.
    found = await service_of(request).read(lambda client: list_alerts(client, who or None, start, MAX_ALERTS))
    shown = [
        a
        for a in found
        if start <= a.occurred_at < end and _concerns(a, "agent", agent) and _concerns(a, "model", model)
    ]
    return {"customer": key.customer_id, "alerts": [alert_document(a) for a in shown]}


def _concerns(alert: Alert, kind: str, name: str) -> bool:
    """Whether an alert is about ``name`` (an agent or model): its subject, or a top contributor."""
    if not name:
        return True
    return alert.subject == name or any(c.kind == kind and c.id == name for c in alert.top_contributors)


def alert_document(alert: Alert) -> dict[str, Any]:
    contributors = {kind: [c for c in alert.top_contributors if c.kind == kind] for kind in CONTRIBUTOR_KINDS}
    return {
        "alert_id": alert.alert_id,
        "occurred_at": alert.occurred_at.isoformat(),
        "rule": str(alert.rule),
        "status": str(alert.status),
        "customer": alert.customer_id,
        "budget_id": alert.budget_id,
        "scope": alert.scope,
        "subject": alert.subject,
        "reason": alert.reason,
        "observed": {name: money(amount) for name, amount in alert.observed.items()},
        "contributors": {
            kind: [{"id": c.id, "cost": money(c.cost)} for c in found] for kind, found in contributors.items()
        },
        "events": events_link(alert),
    }


def events_link(alert: Alert) -> str:
    """The ``/v1/costs`` query of the events behind an alert: its customer, agent and period."""
    agents = [c.id for c in alert.top_contributors if c.kind == "agent"]
    agent = alert.subject if alert.scope in ("agent", "customer_agent") and alert.subject else ""
    query = {
        "customer": alert.customer_id,
        "from": alert.period_start.isoformat(),
        "to": max(alert.period_end, alert.occurred_at + timedelta(seconds=1)).isoformat(),
        "group_by": "agent,category,window",
        "window": "1h",
    }
    if agent or len(agents) == 1:
        query["agent"] = agent or agents[0]
    return f"/v1/costs?{urlencode(query)}"
