"""The dashboard's figures that need no database: the query it asks, periods and projections.

Money stays ``Decimal`` here and leaves as a string; the page rounds it for display.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from schemas.money import ROUNDING_MODE, SCALE

GROUPS = ("category", "agent", "customer", "model")
DAY_S = 86_400  # the model dimension's window: its rollup (meter_days) is daily
# The layers of an agent's stack its cost is shown in, from the categories the windows count
# (the event kinds of schemas/events.py; a correction counts under the kind it corrects).
LAYERS: dict[str, str] = {
    "llm": "inference",
    "tool": "tools",
    "embedding": "retrieval",
    "vector_query": "retrieval",
    "compute": "compute",
    "storage": "storage",
    "human_review": "human review",
    "outcome": "outcomes",
}
LAYER_NAMES = tuple(dict.fromkeys(LAYERS.values()))
MAX_POINTS = 20_000  # windows per series a browser is sent: a year of hours fits, a year of minutes does not


class QueryError(ValueError):
    """A dashboard query that cannot be answered as asked (a 400)."""


@dataclass(frozen=True, slots=True)
class Filters:
    """The global filters; ``""`` means every customer, agent or category."""

    customer: str = ""
    agent: str = ""
    category: str = ""
    model: str = ""  # the SKU an LLM call or embedding is priced by

    def holds(self, customer: str, agent: str) -> bool:
        return self.customer in ("", customer) and self.agent in ("", agent)

    @property
    def rollup(self) -> bool:
        """Per-customer rollups (agent '*') answer any question that does not name an agent."""
        return self.agent == ""


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    start: datetime
    end: datetime
    window_s: int
    group: str
    filters: Filters

    @property
    def by_model(self) -> bool:
        """Asked by model: answered from the daily rollup by SKU, which has no agent."""
        return self.group == "model" or self.filters.model != ""

    def check(self, window_sizes: tuple[int, ...]) -> None:
        if self.group not in GROUPS:
            raise QueryError(f"group must be one of {', '.join(GROUPS)}, not {self.group!r}")
        if self.by_model and (self.filters.agent or self.group == "agent"):
            raise QueryError("costs by model are kept per customer and day, not per agent: clear one of them")
        if self.by_model:
            if self.start.timestamp() % DAY_S or self.end.timestamp() % DAY_S:
                raise QueryError("costs by model are kept per day: 'from' and 'to' must be midnights (UTC)")
            return
        if self.window_s not in window_sizes:
            raise QueryError(f"window must be one of {', '.join(map(str, window_sizes))} seconds")
        if self.end <= self.start:
            raise QueryError("the range is empty: 'to' must be after 'from'")
        if (self.end - self.start) / timedelta(seconds=self.window_s) > MAX_POINTS:
            raise QueryError(
                f"more than {MAX_POINTS:,} windows of {self.window_s} s: "
                "choose a shorter range or 1-hour windows"
            )

    @property
    def rollup(self) -> bool:
        return self.filters.rollup and self.group != "agent"


@dataclass(frozen=True, slots=True)
class Spend:
    today: Decimal
    month: Decimal
    projected: Decimal


def month_start(at: datetime) -> datetime:
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def day_start(at: datetime) -> datetime:
    return datetime(at.year, at.month, at.day, tzinfo=UTC)


def month_end(at: datetime) -> datetime:
    days = calendar.monthrange(at.year, at.month)[1]
    return month_start(at) + timedelta(days=days)


def projected(month_so_far: Decimal, at: datetime) -> Decimal:
    """The month's spend if it goes on at the month-to-date rate (linear in time)."""
    elapsed = Decimal(int((at - month_start(at)).total_seconds()))
    if elapsed <= 0:
        return month_so_far
    whole = Decimal(int((month_end(at) - month_start(at)).total_seconds()))
    return (month_so_far * whole / elapsed).quantize(SCALE, rounding=ROUNDING_MODE)


def end_of_day(day: date) -> datetime:
    """The instant a day ends, which is when its figures are read "as of" that day."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def share_pct(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` in percent, to 0.1 (half-even); None of nothing."""
    if whole == 0:
        return None
    return (Decimal(100 * part) / whole).quantize(Decimal("0.1"), rounding=ROUNDING_MODE)


def ratio(value: Decimal, cost: Decimal) -> Decimal | None:
    """Value delivered per dollar spent, to 0.01; None without cost."""
    if cost == 0:
        return None
    return (value / cost).quantize(Decimal("0.01"), rounding=ROUNDING_MODE)


@dataclass(frozen=True, slots=True)
class Burn:
    """A budget's period so far: spend to ``at``, and the period's spend if it goes on at that rate."""

    start: datetime
    end: datetime
    at: datetime
    amount: Decimal
    spent: Decimal
    cumulative: list[tuple[datetime, Decimal]]  # spend to the end of each hour with any

    @property
    def projected(self) -> Decimal:
        """Spend ÷ the elapsed share of the period (the rate so far, carried to its end)."""
        elapsed = Decimal(int((self.at - self.start).total_seconds()))
        if elapsed <= 0 or self.at >= self.end:
            return self.spent
        whole = Decimal(int((self.end - self.start).total_seconds()))
        return (self.spent * whole / elapsed).quantize(SCALE, rounding=ROUNDING_MODE)

    @property
    def used_pct(self) -> Decimal:
        return (100 * self.spent / self.amount).quantize(Decimal("0.1"), rounding=ROUNDING_MODE)


def burn(
    start: datetime, end: datetime, at: datetime, amount: Decimal, hourly: list[tuple[datetime, Decimal]]
) -> Burn:
    """The running total of ``hourly`` costs (hour starts in order) over a budget's period up to ``at``."""
    moment = min(max(at, start), end)
    total, cumulative = Decimal(0), []
    for hour, cost in hourly:
        total += cost
        cumulative.append((min(hour + timedelta(hours=1), moment), total))
    return Burn(start, end, moment, amount, total, cumulative)


def months_back(last: date, count: int) -> list[tuple[int, int]]:
    """``count`` (year, month) pairs ending with ``last``'s, oldest first."""
    index = last.year * 12 + last.month - 1
    return [(i // 12, i % 12 + 1) for i in range(index - count + 1, index + 1)]
