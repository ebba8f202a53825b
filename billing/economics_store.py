"""What unit economics reads from ClickHouse: usage and tasks, conversations per hour, invoice totals.

The figures themselves are computed, purely, by :mod:`billing.economics`.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from billing.economics import ConversationHour, EconomicsInputs, Usage
from billing.invoices import BillingContext, invoice_for, subscribed
from billing.periods import Period
from costline.clickhouse import read_query


def read(client: Client, period: Period) -> EconomicsInputs:
    """The ledger's usage and the subscribed customers' invoice totals for ``period``."""
    customers: dict[str, Usage] = {}
    agents: dict[str, list[tuple[str, Usage]]] = defaultdict(list)
    for customer, agent, cost, tasks, successful, task_cost in _rows(client, "economics_usage", period):
        usage = Usage(Decimal(cost), int(tasks), int(successful), Decimal(task_cost))
        if agent is None:  # the query's per-customer rollup
            customers[customer] = usage
        else:
            agents[customer].append((agent, usage))
    hours = [
        ConversationHour(int(n), Decimal(cost)) for _, n, cost in _rows(client, "conversation_hours", period)
    ]
    return EconomicsInputs(period, customers, dict(agents), invoice_totals(client, period), hours)


def invoice_totals(client: Client, period: Period) -> dict[str, Decimal]:
    """Each subscribed customer's invoice total: the finalized invoice if stored, else the draft."""
    ctx = BillingContext.load(client)
    return {customer: invoice_for(ctx, customer, period).total for customer in subscribed(client, period)}


def _rows(client: Client, query: str, period: Period) -> list[tuple[Any, ...]]:
    parameters = {"from": period.start, "to": period.end}
    return [tuple(r) for r in client.query(read_query(query), parameters=parameters).result_rows]
