"""Cost questions answered from ClickHouse, by the SQL in ``sql/queries``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from costline.clickhouse import read_query

GROUPINGS = ("agent", "category", "window")


@dataclass(frozen=True, slots=True)
class CostRow:
    group: tuple[str, ...]
    cost: Decimal
    events: int
    quantity: Decimal
    unit: str


def _rows(client: Client, name: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in client.query(read_query(name), parameters=parameters).result_rows]


def customer_costs(
    client: Client, customer: str, start: datetime, end: datetime, group_by: Sequence[str]
) -> list[CostRow]:
    """One customer's costs over [start, end), grouped by a subset of GROUPINGS."""
    unknown = set(group_by) - set(GROUPINGS)
    if unknown:
        raise ValueError(f"cannot group by {', '.join(sorted(unknown))}; choose from {GROUPINGS}")
    rolled: dict[tuple[str, ...], list[Any]] = {}
    params = {"customer": customer, "from": start, "to": end}
    for agent, category, window, cost, events, quantity, unit in _rows(client, "costs", params):
        parts = {"agent": agent, "category": category, "window": window.replace(tzinfo=UTC).isoformat()}
        group = tuple(parts[g] for g in group_by)
        acc = rolled.setdefault(group, [Decimal(0), 0, Decimal(0), set()])
        acc[0] += cost
        acc[1] += events
        acc[2] += quantity
        acc[3].add(unit)
    return [
        CostRow(group, cost, events, qty, units.pop() if len(units) == 1 else "mixed")
        for group, (cost, events, qty, units) in sorted(rolled.items())
    ]


def cost_summary(client: Client, start: datetime, end: datetime) -> list[CostRow]:
    """Every customer's costs per agent and category over [start, end)."""
    return [
        CostRow((customer, agent, category), cost, events, quantity, unit)
        for customer, agent, category, cost, events, quantity, unit in _rows(
            client, "cost_summary", {"from": start, "to": end}
        )
    ]
