"""Cost questions answered from ClickHouse, by the SQL in ``sql/queries``.

``costs`` answers every "what did it cost" over a span of time: any
customer or all, filtered by agent and category, grouped by any of
:data:`GROUPINGS`, windows of any of :data:`WINDOW_SIZES`, a page at a time.
The CLI and the HTTP API both ask it, so they show the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from billing.exceptions import BillingError
from costline.clickhouse import read_query

GROUPINGS = ("customer", "agent", "category", "window")  # also the order rows come in
WINDOW_SIZES = {"1m": 60, "1h": 3600, "1d": 86_400}
DEFAULT_WINDOW = "1h"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the window column of rows not grouped by window
_NO_LIMIT = 2**63 - 1

CostKey = tuple[str, str, str, str]
"""Where a row sorts: customer, agent, category and window start (ISO 8601), '' where not grouped."""


@dataclass(frozen=True, slots=True)
class CostRow:
    group: tuple[str, ...]  # the values of the groupings asked for, in the order asked
    cost: Decimal
    events: int
    quantity: Decimal
    unit: str  # "mixed" when the group holds more than one
    key: CostKey = ("", "", "", "")


@dataclass(frozen=True, slots=True)
class CostQuery:
    start: datetime
    end: datetime
    group_by: tuple[str, ...] = ("agent", "category")
    customer: str | None = None  # None: every customer
    agent: str | None = None
    category: str | None = None
    window: str = DEFAULT_WINDOW

    def __post_init__(self) -> None:
        unknown = set(self.group_by) - set(GROUPINGS)
        if unknown:
            raise BillingError(
                f"cannot group by {', '.join(sorted(unknown))}; choose from {', '.join(GROUPINGS)}"
            )
        if len(set(self.group_by)) != len(self.group_by):
            raise BillingError("a grouping is named twice")
        if self.window not in WINDOW_SIZES:
            raise BillingError(f"a window is one of {', '.join(WINDOW_SIZES)}, not {self.window!r}")
        if self.start >= self.end:
            raise BillingError(f"the end ({self.end.isoformat()}) must be after the start "
                               f"({self.start.isoformat()})")  # fmt: skip

    def parameters(self, after: CostKey | None, limit: int | None) -> dict[str, Any]:
        key = after or ("", "", "", "")
        return {
            **{f"by_{name}": name in self.group_by for name in GROUPINGS},
            "window_s": WINDOW_SIZES[self.window],
            "from": self.start,
            "to": self.end,
            "customer": self.customer or "",
            "agent": self.agent or "",
            "category": self.category or "",
            "after_customer": key[0],
            "after_agent": key[1],
            "after_category": key[2],
            "after_window": datetime.fromisoformat(key[3]) if key[3] else _EPOCH,
            "paged": after is not None,
            "limit": _NO_LIMIT if limit is None else limit,
        }


def costs(
    client: Client, query: CostQuery, after: CostKey | None = None, limit: int | None = None
) -> list[CostRow]:
    """The rows of ``query`` in key order: those after ``after``, at most ``limit`` of them."""
    result = client.query(read_query("cost_rows"), parameters=query.parameters(after, limit))
    rows = []
    for customer, agent, category, window, cost, events, quantity, unit in result.result_rows:
        shown = window.replace(tzinfo=UTC).isoformat() if "window" in query.group_by else ""
        parts = {"customer": customer, "agent": agent, "category": category, "window": shown}
        key: CostKey = (customer, agent, category, shown)
        rows.append(CostRow(tuple(parts[g] for g in query.group_by), cost, int(events), quantity, unit, key))
    return rows


def customer_costs(
    client: Client, customer: str, start: datetime, end: datetime, group_by: Sequence[str]
) -> list[CostRow]:
    """One customer's costs over [start, end), grouped by a subset of GROUPINGS."""
    return costs(client, CostQuery(start, end, tuple(group_by), customer=customer))


def _rows(client: Client, name: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in client.query(read_query(name), parameters=parameters).result_rows]


def cost_summary(client: Client, start: datetime, end: datetime) -> list[CostRow]:
    """Every customer's costs per agent and category over [start, end)."""
    return [
        CostRow((customer, agent, category), cost, events, quantity, unit)
        for customer, agent, category, cost, events, quantity, unit in _rows(
            client, "cost_summary", {"from": start, "to": end}
        )
    ]
