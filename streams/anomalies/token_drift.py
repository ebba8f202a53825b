"""Gradual token inflation: tokens per request of the last days against the weeks before them.

Neither the request detector (each request is a little above a rising
average) nor the hourly one (each hour a little above last week's) sees a
prompt that grows a few percent a day. :class:`TokenDrift` keeps per-day
sums of tokens and request counts (integers, at most ``recent_days +
baseline_days`` days) and compares the mean tokens per request of the last
``recent_days`` days (today included) with that of the ``baseline_days``
days before them. It fires at most once a day per key.

Tokens rather than cost: a price change is not drift. Late events land in
their own day if it is still kept; older ones are ``TOO_LATE``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

import msgspec

from streams.anomalies.day_buckets import DayBuckets, day_of
from streams.anomalies.encoding import PACKED_VERSION, is_json, load_state, packed, unpack_state
from streams.anomalies.picodollars import RATIO_PLACES, fraction_of, ratio
from streams.anomalies.verdict import AnomalyKind, Judgement, Unit, Verdict

# to_bytes' array: version, key, newest day, day -> [sum, count], fired days
_PACKED = msgspec.msgpack.Decoder(tuple[Literal[2], str, int, dict[int, list[int]], list[int]])


@dataclass(frozen=True, slots=True)
class TokenDriftSettings:
    recent_days: int = 3
    baseline_days: int = 28
    # Means of thousands of requests move by a few percent from day to day
    # (and a prompt-injection burst adds a few); 15% is a trend.
    ratio: Decimal = Decimal("1.15")
    min_recent_requests: int = 100
    min_baseline_days: int = 14


class TokenDrift:
    """One key's daily token totals; serializable for a changelogged table."""

    __slots__ = ("_days", "_last", "_ratio", "_sums", "fired_days", "key", "settings")

    def __init__(self, key: str, settings: TokenDriftSettings | None = None) -> None:
        self.key = key
        self.settings = settings or TokenDriftSettings()
        self._ratio = fraction_of(self.settings.ratio)
        self._days = DayBuckets(self.settings.recent_days + self.settings.baseline_days)
        self.fired_days: set[int] = set()
        # The newest day, and the recent and baseline sums and counts (and baseline days) as of it:
        # an event of the newest day, most of them, is judged without adding the days up again.
        self._sums: tuple[int, int, int, int, int, int] | None = None
        self._last: tuple[Judgement, int, int, int, int] = (Judgement.WARMING_UP, 0, 1, 0, 1)

    def observe(self, at: datetime, tokens: int) -> Verdict:
        self.judge(int(at.timestamp()), tokens)
        return self.verdict(at)

    def judge(self, epoch_s: int, tokens: int) -> Judgement:
        """:meth:`observe` without building the verdict; decided on integers."""
        s = self.settings
        day = day_of(epoch_s)
        days = self._days
        sums = self._sums
        bucket = days.days.get(day) if sums is not None and sums[0] == day == days.newest_day else None
        if sums is not None and bucket is not None:
            bucket[0] += tokens  # days.add of the newest day: nothing to evict, no fired day to forget
            bucket[1] += 1
            newest, recent_sum, recent_n, base_sum, base_n, base_days = sums
            recent_sum, recent_n = recent_sum + tokens, recent_n + 1
        else:
            if not days.accepts(day):
                self._last = (Judgement.TOO_LATE, tokens, 1, 0, 1)
                return Judgement.TOO_LATE
            days.add(day, tokens)
            if self.fired_days and min(self.fired_days) < days.oldest_kept():
                self.fired_days = {d for d in self.fired_days if days.accepts(d)}
            newest = days.newest_day
            recent_sum, recent_n, _ = days.totals(newest - s.recent_days + 1, newest)
            first = newest - s.recent_days - s.baseline_days + 1
            base_sum, base_n, base_days = days.totals(first, newest - s.recent_days)
        self._sums = (newest, recent_sum, recent_n, base_sum, base_n, base_days)
        ratio = self._ratio
        if recent_n < s.min_recent_requests or base_days < s.min_baseline_days or base_sum == 0:
            judgement = Judgement.WARMING_UP
            base_sum, base_n = 0, 1
        # recent_sum / recent_n <= ratio * base_sum / base_n
        elif recent_sum * base_n * ratio.denominator <= ratio.numerator * base_sum * recent_n:
            judgement = Judgement.NORMAL
        elif newest in self.fired_days:
            judgement = Judgement.ALREADY_FIRED
        else:
            self.fired_days.add(newest)
            judgement = Judgement.FIRED
        self._last = (judgement, recent_sum, max(recent_n, 1), base_sum, base_n)
        return judgement

    def absorb(self, days: Sequence[int], tokens: Sequence[int], start: int, stop: int) -> int:
        """:meth:`judge` events ``start``.. of ``days`` and ``tokens`` while they are of the newest day and
        do not fire; the first one left (``stop`` when none is). Their verdicts are not kept:
        :meth:`verdict` is for the last :meth:`judge`."""
        sums = self._sums
        if sums is None:
            return start
        newest, recent_sum, recent_n, base_sum, base_n, base_days = sums
        bucket = self._days.days.get(newest) if newest == self._days.newest_day else None
        if bucket is None:
            return start
        s = self.settings
        # Below, as judge decides: warming up, normal, already fired (all quiet) or fired.
        may_fire = base_days >= s.min_baseline_days and base_sum != 0 and newest not in self.fired_days
        num, den = self._ratio.numerator, self._ratio.denominator
        i = start
        while i < stop and days[i] == newest:
            count = tokens[i]
            total, n = recent_sum + count, recent_n + 1
            if may_fire and n >= s.min_recent_requests and total * base_n * den > num * base_sum * n:
                break  # fires: judged alone, for its verdict
            recent_sum, recent_n = total, n
            i += 1
        if i > start:
            bucket[0] += recent_sum - sums[1]
            bucket[1] += recent_n - sums[2]
            self._sums = (newest, recent_sum, recent_n, base_sum, base_n, base_days)
        return i

    def absorb_sums(self, day: int, tokens: int, count: int, most: int, least: int) -> bool:
        """:meth:`judge` of ``count`` events all of ``day``, of ``tokens`` together (each between
        ``least`` and ``most``), at once, where none of them can fire: True then, else False and
        nothing changed (each is to be judged in turn).

        None can fire without a baseline, once the day has fired, or while the recent mean and
        every one of them are within the ratio of the baseline's mean (a mean of means, each
        within, is within). As :meth:`absorb`, the last verdict is not kept."""
        sums = self._sums
        days = self._days
        s = self.settings
        if least < 0:  # not tokens: judged in turn
            return False
        if sums is None:
            if days.newest_day == day and not (self.fired_days and min(self.fired_days) < days.oldest_kept()):
                # read back: the sums as judge works them out
                recent = days.totals(day - s.recent_days + 1, day)[:2]
                base = days.totals(day - s.recent_days - s.baseline_days + 1, day - s.recent_days)
                sums = self._sums = (day, *recent, *base)
            elif days.newest_day >= 0 or days.days:
                return False
            else:
                # A new key: no baseline (its sum 0), so every event of its first day warms up.
                days.newest_day = day
                days.days[day] = [tokens, count]
                self._sums = (day, tokens, count, 0, 0, 0)
                return True
        newest, recent_sum, recent_n, base_sum, base_n, base_days = sums
        if newest != day or day != days.newest_day:
            return False
        bucket = days.days.get(day)
        if bucket is None:
            return False
        ratio = self._ratio
        num, den = ratio.numerator, ratio.denominator
        if not (
            base_days < s.min_baseline_days
            or base_sum == 0
            or newest in self.fired_days
            or recent_n + count < s.min_recent_requests
            or (
                num > 0
                and recent_sum * base_n * den <= num * base_sum * recent_n
                and most * base_n * den <= num * base_sum
            )
        ):
            return False
        bucket[0] += tokens
        bucket[1] += count
        self._sums = (newest, recent_sum + tokens, recent_n + count, base_sum, base_n, base_days)
        return True

    def verdict(self, at: datetime) -> Verdict:
        """The verdict on the last observation, ``at`` its time."""
        judgement, recent_sum, recent_n, base_sum, base_n = self._last
        return self._verdict(at, judgement, Fraction(recent_sum, recent_n), Fraction(base_sum, base_n))

    def _verdict(self, at: datetime, judgement: Judgement, recent: Fraction, baseline: Fraction) -> Verdict:
        s = self.settings
        return Verdict(
            kind=AnomalyKind.TOKEN_DRIFT,
            key=self.key,
            at=at,
            judgement=judgement,
            unit=Unit.TOKENS_PER_REQUEST,
            observed=_places(recent),
            baseline=_places(baseline),
            threshold=_places(self._ratio * baseline),
            ratio=ratio(recent, baseline),
            basis=f"tokens per request, last {s.recent_days} days against the {s.baseline_days} before",
        )

    def to_bytes(self) -> bytes:
        days = self._days
        return packed((PACKED_VERSION, self.key, days.newest_day, days.days, sorted(self.fired_days)), self)

    def to_json(self) -> dict[str, Any]:
        """The state as JSON wrote it (before session 15; past 64 bits still), every item sorted."""
        return {"key": self.key, "days": self._days.to_json(), "fired": sorted(self.fired_days)}

    @classmethod
    def from_bytes(cls, raw: bytes, settings: TokenDriftSettings | None = None) -> TokenDrift:
        """Of :meth:`to_bytes`, or of JSON as versions before wrote it."""
        if not is_json(raw):
            _, key, newest, days, fired = unpack_state(raw, _PACKED)
            drift = cls(key, settings)
            drift._days = DayBuckets(drift._days.span_days, newest, days)
            drift.fired_days = set(fired)
            return drift
        data = load_state(raw)
        drift = cls(data["key"], settings)
        drift._days = DayBuckets.from_json(drift._days.span_days, data["days"])
        drift.fired_days = set(data["fired"])
        return drift


def _places(value: Fraction) -> Decimal:
    """Tokens per request to four places: a mean of counts, not money."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(RATIO_PLACES)
