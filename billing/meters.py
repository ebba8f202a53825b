"""Meter values from the ledger: per customer and day, and per customer for a whole range."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from costline.clickhouse import read_query
from schemas.meters import Meter, MeterFilter

#: The priced cost of everything a customer did: what pass-through charges re-bill.
USAGE_COST = Meter(name="usage_cost", description="Priced usage cost", aggregation="cost", unit="USD")


@dataclass(frozen=True)
class MeterUsage:
    daily: dict[tuple[str, date], Decimal] = field(default_factory=dict)  # (customer, day) -> value
    totals: dict[str, Decimal] = field(default_factory=dict)  # customer -> value over the range

    def total(self, customer: str) -> Decimal:
        return self.totals.get(customer, Decimal(0))


def meter_parameters(meter: Meter) -> dict[str, Any]:
    f: MeterFilter = meter.filter
    return {
        "aggregation": meter.aggregation,
        "field": meter.field or "",
        "kinds": list(f.kinds),
        "skus": list(f.skus),
        "providers": list(f.providers),
        "outcome_types": list(f.outcome_types),
        "success": -1 if f.success is None else int(f.success),
        "attributes": dict(f.attributes),
    }


def meter_usage(
    client: Client, meter: Meter, start: datetime, end: datetime, customers: Iterable[str] = ()
) -> MeterUsage:
    """``meter`` over [start, end), for ``customers`` (all when empty)."""
    parameters = meter_parameters(meter) | {"from": start, "to": end, "customers": list(customers)}
    usage = MeterUsage()
    for customer, day, value in client.query(read_query("meter_usage"), parameters=parameters).result_rows:
        if day is None:
            usage.totals[customer] = Decimal(value)
        else:
            usage.daily[(customer, day)] = Decimal(value)
    return usage
