"""The dashboard's figures that need no database: the query it asks, periods and projections.

Money stays ``Decimal`` here and leaves as a string; the page rounds it for display.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from schemas.money import ROUNDING_MODE, SCALE

GROUPS = ("category", "agent", "customer")
MAX_POINTS = 20_000  # windows per series a browser is sent: a year of hours fits, a year of minutes does not


class QueryError(ValueError):
    """A dashboard query that cannot be answered as asked (a 400)."""


@dataclass(frozen=True, slots=True)
class Filters:
    """The global filters; ``""`` means every customer, agent or category."""

    customer: str = ""
    agent: str = ""
    category: str = ""

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

    def check(self, window_sizes: tuple[int, ...]) -> None:
        if self.group not in GROUPS:
            raise QueryError(f"group must be one of {', '.join(GROUPS)}, not {self.group!r}")
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
