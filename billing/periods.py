"""Billing periods: a UTC calendar month, and the days of it each subscription covers. Pure."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from billing.exceptions import BillingError
from schemas.plans import Subscription


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month in UTC: ``2026-11``."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        try:
            year, month = (int(part) for part in text.split("-"))
            date(year, month, 1)
        except ValueError:
            raise BillingError(f"a period is a month like 2026-11, not {text!r}") from None
        return cls(year, month)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def end_day(self) -> date:
        """The first day after the month."""
        return self.first_day + timedelta(days=self.days)

    @property
    def start(self) -> datetime:
        return midnight(self.first_day)

    @property
    def end(self) -> datetime:
        return midnight(self.end_day)

    def __str__(self) -> str:
        return self.label


def midnight(day: date) -> datetime:
    """The instant ``day`` begins, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True)
class Segment:
    """The days of a period one subscription covers."""

    subscription: Subscription
    first: date
    end: date  # exclusive

    @property
    def days(self) -> int:
        return (self.end - self.first).days


def segments(subscriptions: Iterable[Subscription], period: Period) -> list[Segment]:
    """One customer's subscriptions cut to ``period``, in order."""
    subs = sorted(subscriptions, key=lambda s: s.starts_on)
    out = []
    for sub, following in zip(subs, [*subs[1:], None], strict=False):
        first = max(sub.starts_on, period.first_day)
        end = min(following.starts_on if following else period.end_day, period.end_day)
        if first < end:
            out.append(Segment(sub, first, end))
    return out
