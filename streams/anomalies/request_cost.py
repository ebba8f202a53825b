"""A request (or a task) costing more than k times its agent's trailing 30-day average.

One :class:`RequestCostHistory` per key (the caller's choice: an agent, a
customer's agent). It keeps per-day sums and counts of cost in integers of
1e-12 USD over the last ``window_days`` event-time days, so the average is
exact and the state is at most 30 pairs of integers. :meth:`observe` first
judges a cost against the average of everything counted before it (earlier
requests of the same day included), then counts it.

Tasks: a second history per agent, fed each task's total cost when the
caller knows the task has ended (``subject=Subject.TASK`` only changes the
words of the verdict). Request and task costs are never mixed in one history:
a task costs many requests, so a shared average would be meaningless.

Late events: an event whose day is still inside the window is judged against
the window as it stands (which may hold requests later than it) and counted
in its own day; an older one is ``TOO_LATE``, neither judged nor counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any, Literal

import msgspec

from streams.anomalies.day_buckets import DayBuckets, day_of
from streams.anomalies.encoding import PACKED_VERSION, is_json, load_state, packed, unpack_state
from streams.anomalies.picodollars import fraction_of, ratio, to_units, to_usd
from streams.anomalies.verdict import AnomalyKind, Judgement, Unit, Verdict

# to_bytes' array: version, key, newest day, day -> [sum, count]
_PACKED = msgspec.msgpack.Decoder(tuple[Literal[2], str, int, dict[int, list[int]]])


class Subject(StrEnum):
    REQUEST = "request"
    TASK = "task"


@dataclass(frozen=True, slots=True)
class RequestCostSettings:
    k: Decimal = Decimal(2)  # the default: twice the average
    window_days: int = 30
    # An average of fewer requests is mostly noise: with the spread of agent
    # request costs (a lognormal sigma of 0.3-0.5) the mean of 50 is within
    # about 10% of the true one.
    min_requests: int = 50
    # A new agent's first day is test traffic and setup; three days see it at work.
    min_days: int = 3
    subject: Subject = Subject.REQUEST


class RequestCostHistory:
    """One key's trailing window of costs; serializable for a changelogged table."""

    __slots__ = ("_days", "_k", "_last", "_window", "key", "settings")

    def __init__(self, key: str, settings: RequestCostSettings | None = None) -> None:
        self.key = key
        self.settings = settings or RequestCostSettings()
        self._k = fraction_of(self.settings.k)
        self._days = DayBuckets(self.settings.window_days)
        self._last: tuple[Judgement, int, int, int, int] = (Judgement.WARMING_UP, 0, 0, 0, 0)
        # The window's sum, count and days with requests as of its newest day (the day first): an
        # event of that day, most of them, is judged without adding the days up again.
        self._window: tuple[int, int, int, int] | None = None

    def observe(self, at: datetime, cost: Decimal) -> Verdict:
        self.judge(int(at.timestamp()), to_units(cost))
        return self.verdict(at)

    def judge(self, epoch_s: int, units: int) -> Judgement:
        """:meth:`observe` without building the verdict (the stream's path: most events are normal)."""
        day = day_of(epoch_s)
        days = self._days
        window = self._window
        bucket = days.days.get(day) if window is not None and window[0] == day == days.newest_day else None
        if window is not None and bucket is not None:
            _, total, count, active_days = window
            bucket[0] += units  # days.add of the newest day: nothing to evict
            bucket[1] += 1
            self._window = (day, total + units, count + 1, active_days)
        else:
            if not days.accepts(day):
                self._last = (Judgement.TOO_LATE, units, 0, 0, 0)
                return Judgement.TOO_LATE
            anchor = max(day, days.newest_day)
            first = anchor - self.settings.window_days + 1
            total, count, active_days = days.totals(first, anchor)
            days.add(day, units)
            newest = days.newest_day
            self._window = (newest, *days.totals(newest - self.settings.window_days + 1, newest))
        if count < self.settings.min_requests or active_days < self.settings.min_days:
            judgement = Judgement.WARMING_UP
        # cost > k * total / count, in integers
        elif units * count * self._k.denominator > self._k.numerator * total:
            judgement = Judgement.FIRED
        else:
            judgement = Judgement.NORMAL
        self._last = (judgement, units, total, count, active_days)
        return judgement

    def absorb(self, days: Sequence[int], units: Sequence[int], start: int, stop: int) -> int:
        """:meth:`judge` events ``start``.. of ``days`` and ``units`` while they are of the window's newest
        day and do not fire; the first one left (``stop`` when none is). Their verdicts are not kept:
        :meth:`verdict` is for the last :meth:`judge`."""
        window = self._window
        if window is None:
            return start
        day, total, count, active_days = window
        bucket = self._days.days.get(day) if day == self._days.newest_day else None
        if bucket is None:
            return start
        s = self.settings
        judged = active_days >= s.min_days  # the same all day
        num, den = self._k.numerator, self._k.denominator
        i = start
        while i < stop and days[i] == day:
            amount = units[i]
            if judged and count >= s.min_requests and amount * count * den > num * total:
                break  # fires: judged alone, for its verdict
            total += amount
            count += 1
            i += 1
        if i > start:
            bucket[0] += total - window[1]
            bucket[1] += count - window[2]
            self._window = (day, total, count, active_days)
        return i

    def absorb_sums(self, day: int, units: int, count: int, most: int, least: int) -> bool:
        """:meth:`judge` of ``count`` events all of ``day``, costing ``units`` together (each between
        ``least`` and ``most``), at once, where none of them can fire: True then, else False and
        nothing changed (each is to be judged in turn).

        None can fire while the key warms up, or while its biggest cost is within k times the
        average before them all (no refund among them: the average only grows). As :meth:`absorb`,
        the last verdict is not kept."""
        s = self.settings
        num, den = self._k.numerator, self._k.denominator
        window = self._window
        days = self._days
        if window is None:
            if days.newest_day == day:  # read back: the window as judge works it out
                window = self._window = (day, *days.totals(day - s.window_days + 1, day))
            elif days.newest_day >= 0 or days.days:
                return False
            else:
                # A new key: its first event is judged on nothing (never fires), the rest as of
                # a window of that day, its first active day.
                if s.min_days <= 1 and count - 1 >= s.min_requests:
                    return False
                days.newest_day = day
                days.days[day] = [units, count]
                self._window = (day, units, count, 1)
                return True
        newest, total, seen, active_days = window
        if newest != day or day != days.newest_day:
            return False
        bucket = days.days.get(day)
        if bucket is None:
            return False
        if not (
            active_days < s.min_days
            or seen + count - 1 < s.min_requests
            or (least >= 0 and num > 0 and most * (seen + count - 1) * den <= num * total)
        ):
            return False
        bucket[0] += units
        bucket[1] += count
        self._window = (day, total + units, seen + count, active_days)
        return True

    def verdict(self, at: datetime) -> Verdict:
        """The verdict on the last observation, ``at`` its time."""
        return self._verdict(at, *self._last)

    def _verdict(
        self, at: datetime, judgement: Judgement, units: int, total: int, count: int, active_days: int
    ) -> Verdict:
        average = Fraction(total, count) if count else Fraction(0)
        judged = judgement in (Judgement.FIRED, Judgement.NORMAL)
        subject = self.settings.subject.value
        return Verdict(
            kind=AnomalyKind.REQUEST_COST,
            key=self.key,
            at=at,
            judgement=judgement,
            unit=Unit.USD,
            observed=to_usd(units),
            baseline=to_usd(average),
            threshold=to_usd(average * self._k) if judged else Decimal(0),
            ratio=ratio(units, average),
            basis=(
                f"{subject} cost against the average of {count} {subject}s "
                f"over {active_days} of the last {self.settings.window_days} days"
            ),
        )

    def to_bytes(self) -> bytes:
        days = self._days
        return packed((PACKED_VERSION, self.key, days.newest_day, days.days), self)

    def to_json(self) -> dict[str, Any]:
        """The state as JSON wrote it (before session 15; past 64 bits still), every item sorted."""
        return {"key": self.key, "days": self._days.to_json()}

    @classmethod
    def from_bytes(cls, raw: bytes, settings: RequestCostSettings | None = None) -> RequestCostHistory:
        """Of :meth:`to_bytes`, or of JSON as versions before wrote it."""
        if not is_json(raw):
            _, key, newest, days = unpack_state(raw, _PACKED)
            history = cls(key, settings)
            history._days = DayBuckets(history.settings.window_days, newest, days)
            return history
        data = load_state(raw)
        history = cls(data["key"], settings)
        history._days = DayBuckets.from_json(history.settings.window_days, data["days"])
        return history
