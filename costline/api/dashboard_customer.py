"""The Customer view's figures beyond its draft invoice: budgets burning, alerts, margin by month.

Spend comes from the 1-hour windows (rollups for a whole customer, agent rows for one agent);
revenue is each month's invoice total, as ``costline invoice`` and ``costline economics`` have it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from billing.exceptions import BillingError
from billing.invoices import BillingContext, invoice_for
from billing.periods import Period
from costline.alerts import list_alerts
from costline.api import dashboard_store, dashboard_views
from costline.api.dashboard_figures import Filters, SeriesQuery, burn, months_back
from costline.api.dashboard_scope import money
from costline.budgets import list_budgets
from schemas.budgets import Budget, ScopeKind

MARGIN_MONTHS = 6
# Scopes whose spend the windows hold: the whole customer, or one named agent.
WINDOWED = (ScopeKind.CUSTOMER, ScopeKind.CUSTOMER_AGENT)


def budgets(client: Client, customer: str, at: datetime) -> list[dict[str, Any]]:
    return [_budget(client, b, at) for b in list_budgets(client, customer)]


def _budget(client: Client, budget: Budget, at: datetime) -> dict[str, Any]:
    start, end = budget.period_bounds(at)
    shown: dict[str, Any] = {
        "budget_id": budget.budget_id,
        "scope": budget.scope_label,
        "period": budget.period_label,
        "kind": str(budget.kind),
        "amount": money(budget.amount),
        "currency": budget.currency,
        "thresholds": [money(t) for t in budget.thresholds],
        "start": start.isoformat(),
        "end": end.isoformat(),
        "tracked": budget.scope in WINDOWED,
    }
    if budget.scope not in WINDOWED:
        return shown  # per agent, user or task: the worker's budget state has it, the windows do not
    until = min(end, at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
    filters = Filters(customer=budget.customer_id, agent=budget.agent_id or "")
    hourly = (
        dashboard_store.series(client, SeriesQuery(start, until, 3600, "customer", filters))
        if until > start
        else []
    )
    state = burn(start, end, at, budget.amount, [(p.window_start, p.cost) for p in hourly])
    return shown | {
        "at": state.at.isoformat(),
        "spent": money(state.spent),
        "projected": money(state.projected),
        "used_pct": money(state.used_pct),
        "cumulative": [[t.isoformat(), money(total)] for t, total in state.cumulative],
    }


def alerts(client: Client, customer: str, period: Period) -> list[dict[str, Any]]:
    found = list_alerts(client, customer, period.start, dashboard_views.MAX_ALERTS)
    return [dashboard_views.alert_document(a) for a in found if period.start <= a.occurred_at < period.end]


def margins(client: Client, customer: str, last: date) -> list[dict[str, Any]]:
    """Cost, revenue (the invoice total, 0 without a subscription) and margin, month by month."""
    months = [Period(year, month) for year, month in months_back(last, MARGIN_MONTHS)]
    costs = dashboard_store.monthly_cost(client, customer, months[0].start, months[-1].end)
    context = BillingContext.load(client)
    rows = []
    for month in months:
        cost = costs.get((month.year, month.month), Decimal(0))
        try:
            revenue = invoice_for(context, customer, month).total
        except BillingError:  # no subscription that month
            revenue = Decimal(0)
        rows.append(
            {
                "month": month.label,
                "cost": money(cost),
                "revenue": money(revenue),
                "margin": money(revenue - cost),
            }
        )
    return rows
