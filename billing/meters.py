"""Meter values from the ledger: per customer and day, and per customer for a whole range.

Over whole UTC days, a meter is read from the daily pre-aggregate
``meter_days`` (``sql/ddl/016_meter_days.sql``): a customer-month is a few
hundred rows instead of every ledger row. The ledger itself is read, with
``FINAL``, when the pre-aggregate cannot give the same answer: a range
that does not start and end at midnight, a filter on attributes, a unique
count of request ids (not kept per day), or customers whose rows in the
range were inserted twice (a replayed batch, which the ledger collapses
and the pre-aggregate would add again).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from string import Template
from typing import Any

from clickhouse_connect.driver.client import Client

from costline.clickhouse import read_query
from schemas.meters import Meter, MeterFilter

#: The priced cost of everything a customer did: what pass-through charges re-bill.
USAGE_COST = Meter(name="usage_cost", description="Priced usage cost", aggregation="cost", unit="USD")

# meter_days' column for each aggregation and field it keeps.
_DAILY_SUMS = {
    "count": "events",
    "cost": "cost",
    "quantity": "quantity",
    "outcome_value": "outcome_value",
    "input_tokens": "input_tokens",
    "cached_input_tokens": "cached_input_tokens",
    "cache_write_tokens": "cache_write_tokens",
    "output_tokens": "output_tokens",
    "reasoning_tokens": "reasoning_tokens",
}
_DAILY_UNIQUES = {"user_id": "user_ids", "task_id": "task_ids", "agent_id": "agent_ids"}
# meter_days_totals.sql's aggregate for each daily source.
_TOTAL_AGGREGATES = {"meter_days_usage": "sumIf", "meter_days_unique": "uniqExactIfMergeIf"}
# meter_parameters' names that meter_days_total.sql filters on.
_FILTERS = ("kinds", "skus", "providers", "outcome_types", "success")
_TOTALS = Template(read_query("meter_days_totals")).safe_substitute(replayed=read_query("replayed_customers"))
_TOTAL = Template(read_query("meter_days_total"))


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


def daily_source(meter: Meter, start: datetime, end: datetime) -> tuple[str, str] | None:
    """(query, meter_days column) that gives ``meter`` over [start, end) from whole days, or None."""
    if meter.filter.attributes or not (_is_midnight(start) and _is_midnight(end)):
        return None
    if meter.aggregation == "unique_count":
        column = _DAILY_UNIQUES.get(meter.field or "")
        return None if column is None else ("meter_days_unique", column)
    key = meter.field if meter.aggregation == "sum" else meter.aggregation
    column = _DAILY_SUMS.get(key or "")
    return None if column is None else ("meter_days_usage", column)


def _is_midnight(at: datetime) -> bool:
    return at.utcoffset() in (None, timedelta(0)) and at.time() == time(0)


def replayed_customers(
    client: Client, start: datetime, end: datetime, customers: Iterable[str] = ()
) -> set[str]:
    """Of ``customers`` (all when empty), those with ledger rows inserted twice on a day of [start, end)."""
    days = {"from_day": start.date(), "to_day": _last_day_after(end), "customers": list(customers)}
    return {row[0] for row in client.query(read_query("replayed_customers"), parameters=days).result_rows}


def _last_day_after(end: datetime) -> date:
    # A range ending within a day covers part of it: that day is in too.
    return end.date() if _is_midnight(end) else end.date() + timedelta(days=1)


def meter_usage(
    client: Client,
    meter: Meter,
    start: datetime,
    end: datetime,
    customers: Iterable[str] = (),
    replayed: set[str] | None = None,
) -> MeterUsage:
    """``meter`` over [start, end), for ``customers`` (all when empty).

    ``replayed``: :func:`replayed_customers` for the same range and
    customers, when the caller reads several meters of it.
    """
    wanted = list(customers)
    parameters = meter_parameters(meter) | {"customers": wanted}
    source = daily_source(meter, start, end)
    if source is not None:
        if replayed is None:
            replayed = replayed_customers(client, start, end, wanted)
        if not replayed:
            query, column = source
            days = {"from_day": start.date(), "to_day": end.date(), "column": column}
            return _usage(client.query(read_query(query), parameters=parameters | days))
    ranged = parameters | {"from": start, "to": end}
    return _usage(client.query(read_query("meter_usage"), parameters=ranged))


def _usage(result: Any) -> MeterUsage:
    usage = MeterUsage()
    for customer, day, value in result.result_rows:
        if day is None:
            usage.totals[customer] = Decimal(value)
        else:
            usage.daily[(customer, day)] = Decimal(value)
    return usage


def meter_totals(
    client: Client, meters: Sequence[Meter], start: datetime, end: datetime, customer: str
) -> list[Decimal]:
    """Each of ``meters`` over [start, end) for one customer, as :func:`meter_usage` totals.

    One round trip when meter_days can give every meter and none of the
    customer's days in the range was inserted twice; else each meter as
    :func:`meter_usage` reads it.
    """
    sources = [daily_source(meter, start, end) for meter in meters]
    replayed: set[str] | None = None
    if meters and all(source is not None for source in sources):
        values = _daily_totals(client, meters, [s for s in sources if s is not None], start, end, customer)
        if values is not None:
            return values
        replayed = {customer}
    return [meter_usage(client, m, start, end, [customer], replayed).total(customer) for m in meters]


def _daily_totals(
    client: Client,
    meters: Sequence[Meter],
    sources: Sequence[tuple[str, str]],
    start: datetime,
    end: datetime,
    customer: str,
) -> list[Decimal] | None:
    """The meters from meter_days in one query; None when the customer has a replayed day in the range."""
    values = []
    parameters: dict[str, Any] = {
        "customer": customer,
        "customers": [customer],
        "from_day": start.date(),
        "to_day": end.date(),
    }
    for i, (meter, (query, column)) in enumerate(zip(meters, sources, strict=True)):
        values.append(_TOTAL.substitute(aggregate=_TOTAL_AGGREGATES[query], i=i))
        wanted = meter_parameters(meter)
        parameters |= {f"{name}_{i}": wanted[name] for name in _FILTERS} | {f"column_{i}": column}
    sql = Template(_TOTALS).substitute(values=",\n    ".join(values))
    replayed, *row = client.query(sql, parameters=parameters).result_rows[0]
    return None if replayed else [Decimal(value) for value in row]
