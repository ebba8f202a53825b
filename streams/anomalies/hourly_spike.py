"""Spend spikes within the hour, against the same hour of the week in past weeks.

One :class:`HourlySpend` per key (a customer, or a customer's agent). It keeps
each event-time hour's spend, in integers of 1e-12 USD, for the last
``weeks`` weeks, and judges the hour in progress after every event: the
spend so far in the hour against the hour's seasonal baseline scaled by the
part of the hour elapsed. A runaway loop is therefore caught within minutes,
while each of its requests looks normal.

The baseline of hour ``h`` is robust: the median of the spend in the same
hour of the week over the past ``weeks`` weeks (hours with no spend count as
zero once the key has history there), with its spread as the median absolute
deviation. The hour fires when its spend so far exceeds all of

- ``ratio`` x median, and median + ``deviations`` x 1.4826 x MAD (the
  whole-hour threshold: a doubling, more in hours that vary a lot), scaled
  by the elapsed fraction of the hour, but never below ``min_elapsed_s``
  worth of it (the first minutes of an hour are too noisy to scale down to);
- ``floor`` USD, so that quiet hours with a near-zero baseline never fire on
  cents.

A bigger loop fires sooner: ten times the usual spend crosses a doubled
ten-minute threshold in two minutes; three times, at about ten minutes.
The last ``trailing_s`` seconds (15 minutes) are judged too, against the
hour's threshold scaled to them, so that a loop starting late in an hour is
not diluted by the normal minutes before it (across an hour boundary the new
hour's threshold is used). The bench measured half the delay for twice the
false alerts; ``trailing_s=0`` judges the hour alone.

Fewer than ``min_weeks`` weeks of history: the baseline falls back to the
same hour of the day over the past ``fallback_days`` days (a new customer is
watched from its fourth day, with weekday and weekend mixed in one baseline;
lulls never fire, only spikes do). With less than that, the key is warming up.

Each (key, hour) fires once. A late event is counted in its own hour (if
that hour is still kept) and that hour is judged as it stands, whole if it
is over; an event older than the kept weeks is ``TOO_LATE``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from statistics import median
from typing import Any, Literal

import msgspec

from streams.anomalies.encoding import PACKED_VERSION, is_json, load_state, packed, unpack_state
from streams.anomalies.picodollars import ratio, to_units, to_usd, units_of
from streams.anomalies.verdict import AnomalyKind, Judgement, Unit, Verdict

SECONDS_PER_HOUR = 3600
HOURS_PER_DAY = 24
HOURS_PER_WEEK = 168
MAD_TO_SIGMA = Fraction("1.4826")  # the MAD of a normal distribution is 0.6745 sigma
# to_bytes' array: version, key, first hour, clock, hours, fired hours, minutes
_PACKED = msgspec.msgpack.Decoder(tuple[Literal[2], str, int, int, dict[int, int], list[int], dict[int, int]])


@dataclass(frozen=True, slots=True)
class HourlySpikeSettings:
    weeks: int = 4  # a month of Mondays: enough for a median, short enough to follow growth
    min_weeks: int = 2
    ratio: Decimal = Decimal(2)
    deviations: Decimal = Decimal(4)
    floor: Decimal = Decimal("1.00")  # USD within the hour; below it nobody wants a page
    min_elapsed_s: int = 600
    # Also judged: the last ``trailing_s`` seconds against the hour's threshold
    # scaled to them, so a loop starting late in an hour is not diluted by the
    # normal minutes before it. 0 judges the hour alone.
    trailing_s: int = 900
    fallback_days: int = 7
    min_fallback_days: int = 3


@dataclass(frozen=True, slots=True)
class _Baseline:
    median: Fraction  # whole-hour spend, units
    whole_hour_threshold: Fraction  # units
    basis: str
    # The threshold's numerator and denominator, read once: the test of every event.
    num: int = 0
    den: int = 1


# A new detector's last observation: made once (an enum member's lookup is slow), as each batch makes
# detectors by the thousand.
_NOTHING_JUDGED: tuple[Judgement, int, _Baseline | None, int, int, int] = (
    Judgement.WARMING_UP, 0, None, 0, 0, -1
)  # fmt: skip


class HourlySpend:
    """One key's hourly spend over the last weeks; serializable for a changelogged table."""

    __slots__ = (
        "_cached",
        "_floor",
        "_last",
        "clock",
        "fired",
        "first_hour",
        "hours",
        "key",
        "minutes",
        "settings",
    )

    def __init__(self, key: str, settings: HourlySpikeSettings | None = None) -> None:
        self.key = key
        self.settings = settings or HourlySpikeSettings()
        self._floor = units_of(self.settings.floor)
        # The last observation, for its verdict: judgement, spend judged, baseline, the seconds its
        # threshold is scaled to, seconds elapsed, the trailing window's seconds (-1: the hour's).
        self._last: tuple[Judgement, int, _Baseline | None, int, int, int] = _NOTHING_JUDGED
        self.first_hour = -1  # the first hour observed: before it, spend is unknown, not zero
        self.clock = -1  # the latest event time observed, epoch seconds
        self.hours: dict[int, int] = {}  # hour -> spend, units; hours without spend absent
        self.fired: set[int] = set()
        self.minutes: dict[int, int] = {}  # minute -> spend, units, within the trailing window
        self._cached: tuple[int, _Baseline | None] | None = None

    def observe(self, at: datetime, cost: Decimal) -> Verdict:
        self.judge(int(at.timestamp()), to_units(cost))
        return self.verdict(at)

    def judge(self, epoch_s: int, units: int) -> Judgement:
        """:meth:`observe` without building the verdict (the stream's path: most events are normal)."""
        hour = epoch_s // SECONDS_PER_HOUR
        if self.first_hour < 0:
            self.first_hour = hour
        newest = self.clock // SECONDS_PER_HOUR
        if self.clock >= 0 and hour < newest - self.settings.weeks * HOURS_PER_WEEK:
            self._last = (Judgement.TOO_LATE, units, None, 0, 0, -1)
            return Judgement.TOO_LATE
        if hour < newest:
            self._cached = None  # a past hour changes: baselines built on it are stale
        self.first_hour = min(self.first_hour, hour)
        if epoch_s > self.clock:
            self.clock = epoch_s
            if hour > newest:
                self._evict(hour)
        spent = self.hours.get(hour, 0) + units
        self.hours[hour] = spent
        recent = self._recent(epoch_s, units)

        cached = self._cached
        baseline = cached[1] if cached is not None and cached[0] == hour else self._baseline(hour)
        elapsed = min(SECONDS_PER_HOUR, max(self.clock - hour * SECONDS_PER_HOUR, 0))
        if baseline is None:
            self._last = (Judgement.WARMING_UP, spent, None, 0, elapsed, -1)
            return Judgement.WARMING_UP
        scaled = max(elapsed, self.settings.min_elapsed_s)
        # Decided on integers; the thresholds as fractions only for a verdict.
        over = self._over(spent, baseline, scaled)
        trailing_window = -1  # judged on the hour so far
        if not over and recent is not None:
            trailing = self.settings.trailing_s
            if self._over(recent, baseline, trailing):
                over, spent, scaled, elapsed = True, recent, trailing, trailing
                trailing_window = trailing
        if not over:
            judgement = Judgement.NORMAL
        elif hour in self.fired:
            judgement = Judgement.ALREADY_FIRED
        else:
            self.fired.add(hour)
            judgement = Judgement.FIRED
        self._last = (judgement, spent, baseline, scaled, elapsed, trailing_window)
        return judgement

    def absorb(self, hour: int, epochs: Sequence[int], units: Sequence[int]) -> bool:
        """:meth:`judge` each of these events of ``hour``, in order, when none of them can fire
        (nor is too late); False, and nothing judged, when that is not sure.

        Sure on bounds, not event by event: no event's spend in the hour or in the trailing window
        can be more than the spend before them plus all of theirs, nor its threshold less than at
        the first of them. Most events of a batch are far from their hour's threshold, or have no
        baseline yet. Their verdicts are not kept: :meth:`verdict` is for the last :meth:`judge`.
        """
        if min(units) < 0:  # a refund: the bounds below assume spend only grows
            return False
        added = sum(units)
        if not self._cannot_fire(hour, epochs[0], added):
            return False
        s, clock = self.settings, self.clock
        latest = max(epochs)
        self.hours[hour] = self.hours.get(hour, 0) + added
        if s.trailing_s // 60 > 0:
            self._add_minutes(epochs, units)
        if latest > clock:
            self.clock = latest
        return True

    def absorb_sums(
        self, hour: int, first: int, latest: int, added: int, minutes: Sequence[int], sums: Sequence[int]
    ) -> bool:
        """:meth:`absorb` of events of ``hour`` given by their sums, none of them a refund, their
        times never going back: the first's and the latest time, their spend, and their spend per
        minute (``minutes``, in order, and ``sums``)."""
        if self.first_hour < 0 and self._first_sums(hour, latest, added, minutes, sums):
            return True
        if not self._cannot_fire(hour, first, added):
            return False
        s, clock = self.settings, self.clock
        self.hours[hour] = self.hours.get(hour, 0) + added
        span = s.trailing_s // 60
        if span > 0:
            # _add_minutes, a minute at a time: in order of time, the clock's minute is each one's
            # own (or the clock's, if later), and only a minute's first event can add a minute.
            now = clock // 60
            kept = self.minutes
            for minute, amount in zip(minutes, sums, strict=True):
                stale = max(now, minute) - span
                if minute <= stale:
                    continue
                kept[minute] = kept.get(minute, 0) + amount
                if len(kept) > span:
                    kept = self.minutes = {m: u for m, u in kept.items() if m > stale}
        if latest > clock:
            self.clock = latest
        return True

    def _first_sums(
        self, hour: int, latest: int, added: int, minutes: Sequence[int], sums: Sequence[int]
    ) -> bool:
        """:meth:`absorb_sums` of a detector that has seen no event (most keys of a young worker's
        batch); False, and nothing done, where that takes the general path. Nothing to evict or go
        stale, and no baseline: the hour is its first, so no earlier week or day is known
        (:meth:`_seasonal`), and none of these events can fire."""
        s = self.settings
        if (
            self.clock >= 0
            or self.hours
            or self.minutes
            or self.fired
            or s.min_weeks <= 0
            or s.min_fallback_days <= 0
            or len(minutes) > s.trailing_s // 60
        ):
            return False
        self.first_hour = hour
        self._cached = (hour, None)  # as _baseline leaves it
        self.hours[hour] = added
        # The minutes, distinct and in order, all within the window ending at the last of them.
        self.minutes = dict(zip(minutes, sums, strict=True))
        if latest > self.clock:
            self.clock = latest
        return True

    def _cannot_fire(self, hour: int, first: int, added: int) -> bool:
        """Can no event of ``hour`` adding ``added`` in all, the first at ``first``, fire (nor be too
        late)? The hour is set up as the first of them sets it (its first hour, an eviction) either way
        once they are not too late."""
        s = self.settings
        clock = self.clock
        newest = clock // SECONDS_PER_HOUR
        if clock >= 0 and hour < newest - s.weeks * HOURS_PER_WEEK:
            return False
        if self.first_hour < 0 or hour < self.first_hour:
            self.first_hour = hour  # as the first of them does, before its baseline
        if hour < newest:
            self._cached = None
        elif hour > newest:
            self._evict(hour)  # as the first of them does: later ones are of the newest hour
        cached = self._cached
        baseline = cached[1] if cached is not None and cached[0] == hour else self._baseline(hour)
        if baseline is None:
            return True
        if baseline.num < 0:
            return False
        scaled = max(
            min(SECONDS_PER_HOUR, max(max(clock, first) - hour * SECONDS_PER_HOUR, 0)), s.min_elapsed_s
        )
        if self._over(self.hours.get(hour, 0) + added, baseline, scaled):
            return False
        if s.trailing_s // 60 > 0:
            recent = sum(u for u in self.minutes.values() if u > 0) + added
            if self._over(recent, baseline, s.trailing_s):
                return False
        return True

    def _add_minutes(self, epochs: Sequence[int], units: Sequence[int]) -> None:
        """:meth:`_recent` of each event in turn, the clock moving on with them."""
        span = self.settings.trailing_s // 60
        clock = self.clock
        minutes = self.minutes
        minute = epochs[0] // 60
        if epochs[-1] // 60 == minute and minute * 60 <= min(epochs) and max(epochs) < minute * 60 + 60:
            # One minute (a batch's usual): the clock's minute, so the window, is the same for each.
            stale = max(clock // 60, minute) - span
            if minute > stale:
                minutes[minute] = minutes.get(minute, 0) + sum(units)
                if len(minutes) > span:
                    self.minutes = {m: u for m, u in minutes.items() if m > stale}
            return
        for epoch_s, amount in zip(epochs, units, strict=True):
            if epoch_s > clock:
                clock = epoch_s
            minute = epoch_s // 60
            stale = clock // 60 - span
            if minute <= stale:
                continue
            minutes[minute] = minutes.get(minute, 0) + amount
            if len(minutes) > span:
                minutes = self.minutes = {m: u for m, u in minutes.items() if m > stale}

    def _over(self, amount: int, baseline: _Baseline, seconds: int) -> bool:
        """amount > max(whole-hour threshold x seconds / 1 h, floor), in integers."""
        if amount <= self._floor:
            return False
        return amount * SECONDS_PER_HOUR * baseline.den > baseline.num * seconds

    def verdict(self, at: datetime) -> Verdict:
        """The verdict on the last observation, ``at`` its time."""
        judgement, spent, baseline, scaled, elapsed, trailing = self._last
        if baseline is None:
            return self._verdict(at, judgement, spent, None, Fraction(0), elapsed)
        threshold = max(baseline.whole_hour_threshold * scaled / SECONDS_PER_HOUR, Fraction(self._floor))
        window = (
            f"the last {trailing // 60} minutes"
            if trailing >= 0
            else f"the first {elapsed // 60} minutes of the hour"
        )
        return self._verdict(at, judgement, spent, baseline, threshold, elapsed, window)

    def _recent(self, epoch_s: int, units: int) -> int | None:
        """Spend in the trailing window ending at the clock; None when off or the event is older."""
        span = self.settings.trailing_s // 60
        if span <= 0:
            return None
        now = self.clock // 60
        minute = epoch_s // 60
        if minute <= now - span:
            return None
        minutes = self.minutes
        minutes[minute] = minutes.get(minute, 0) + units
        if len(minutes) > span:
            minutes = self.minutes = {m: u for m, u in minutes.items() if m > now - span}
        if min(minutes) > now - span:  # usually: no stale minute left to skip
            return sum(minutes.values())
        return sum(u for m, u in minutes.items() if m > now - span)

    def _evict(self, newest: int) -> None:
        oldest = newest - self.settings.weeks * HOURS_PER_WEEK
        # min() in C: most calls (a new detector's first event, a new hour) have nothing to drop.
        if self.hours and min(self.hours) < oldest:
            self.hours = {h: s for h, s in self.hours.items() if h >= oldest}
        if self.fired and min(self.fired) < oldest:
            self.fired = {h for h in self.fired if h >= oldest}

    def _baseline(self, hour: int) -> _Baseline | None:
        if self._cached is not None and self._cached[0] == hour:
            return self._cached[1]
        baseline = self._seasonal(hour)
        self._cached = (hour, baseline)
        return baseline

    def _seasonal(self, hour: int) -> _Baseline | None:
        s = self.settings
        # As many earlier hours as _same_hour gives, counted first: a young key (most of a fresh
        # worker's) has too few of either, and no list need be made to find that out.
        since = hour - self.first_hour
        if max(0, min(s.weeks, since // HOURS_PER_WEEK)) >= s.min_weeks:
            weekly = self._same_hour(hour, HOURS_PER_WEEK, s.weeks)
            return self._robust(weekly, f"same hour of the week, {len(weekly)} weeks")
        if max(0, min(s.fallback_days, since // HOURS_PER_DAY)) >= s.min_fallback_days:
            daily = self._same_hour(hour, HOURS_PER_DAY, s.fallback_days)
            return self._robust(daily, f"same hour of the day, {len(daily)} days (fewer weeks)")
        return None

    def _same_hour(self, hour: int, period: int, periods: int) -> list[int]:
        # The earlier hours from the first observed on: the nearest few, so counted, not each tested.
        known = min(periods, (hour - self.first_hour) // period)
        hours = self.hours
        return [hours.get(hour - period * i, 0) for i in range(1, known + 1)]

    def _robust(self, spends: list[int], basis: str) -> _Baseline:
        middle = Fraction(median(spends))
        mad = Fraction(median([abs(x - middle) for x in spends]))
        s = self.settings
        threshold = max(Fraction(s.ratio) * middle, middle + Fraction(s.deviations) * MAD_TO_SIGMA * mad)
        return _Baseline(middle, threshold, basis, threshold.numerator, threshold.denominator)

    def _verdict(
        self,
        at: datetime,
        judgement: Judgement,
        spent: int,
        baseline: _Baseline | None,
        threshold: Fraction,
        elapsed_s: int,
        window: str = "",
    ) -> Verdict:
        expected = Fraction(0)
        basis = "no baseline yet"
        if baseline is not None:
            expected = baseline.median * max(elapsed_s, self.settings.min_elapsed_s) / SECONDS_PER_HOUR
            basis = f"{baseline.basis}; spend in {window}"
        return Verdict(
            kind=AnomalyKind.HOURLY_SPIKE,
            key=self.key,
            at=at,
            judgement=judgement,
            unit=Unit.USD,
            observed=to_usd(spent),
            baseline=to_usd(baseline.median) if baseline else Decimal(0),
            threshold=to_usd(threshold),
            ratio=ratio(spent, expected),
            basis=basis,
        )

    def to_bytes(self) -> bytes:
        fired = sorted(self.fired)
        return packed(
            (PACKED_VERSION, self.key, self.first_hour, self.clock, self.hours, fired, self.minutes), self
        )

    def to_json(self) -> dict[str, Any]:
        """The state as JSON wrote it (before session 15; past 64 bits still), every item sorted."""
        return {
            "key": self.key,
            "first_hour": self.first_hour,
            "clock": self.clock,
            "hours": sorted(self.hours.items()),
            "fired": sorted(self.fired),
            "minutes": sorted(self.minutes.items()),
        }

    @classmethod
    def from_bytes(cls, raw: bytes, settings: HourlySpikeSettings | None = None) -> HourlySpend:
        """Of :meth:`to_bytes`, or of JSON as versions before wrote it."""
        if not is_json(raw):
            _, key, first_hour, clock, hours, fired, minutes = unpack_state(raw, _PACKED)
            state = cls(key, settings)
            state.first_hour, state.clock, state.hours = first_hour, clock, hours
            state.fired, state.minutes = set(fired), minutes
            return state
        data = load_state(raw)
        state = cls(data["key"], settings)
        state.first_hour = data["first_hour"]
        state.clock = data["clock"]
        state.hours = {h: s for h, s in data["hours"]}
        state.fired = set(data["fired"])
        state.minutes = {m: u for m, u in data["minutes"]}
        return state
