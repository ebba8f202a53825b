"""Per-day sums and counts over a bounded span of event-time days: the memory of the daily detectors.

A day is a UTC day (epoch seconds // 86,400). The buckets cover at most
``span_days`` days ending at the newest day observed; older days are evicted
as event time moves on, so the state of a key never grows past ``span_days``
pairs of integers. An observation older than the span is refused (the caller
says "too late"); one within the span lands in its own day, however late.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SECONDS_PER_DAY = 86_400


def day_of(epoch_s: int) -> int:
    return epoch_s // SECONDS_PER_DAY


@dataclass(slots=True)
class DayBuckets:
    span_days: int
    newest_day: int = -1
    # day -> [sum, count]; a list, not a tuple, so adding is in place
    days: dict[int, list[int]] = field(default_factory=dict)

    def oldest_kept(self) -> int:
        return self.newest_day - self.span_days + 1

    def accepts(self, day: int) -> bool:
        return self.newest_day < 0 or day >= self.oldest_kept()

    def add(self, day: int, amount: int) -> None:
        """Counts ``amount`` on ``day`` (which :meth:`accepts`), evicting days that fall out."""
        if day > self.newest_day:
            self.newest_day = day
            oldest = self.oldest_kept()
            for stale in [d for d in self.days if d < oldest]:
                del self.days[stale]
        bucket = self.days.get(day)
        if bucket is None:
            self.days[day] = [amount, 1]
        else:
            bucket[0] += amount
            bucket[1] += 1

    def totals(self, first_day: int, last_day: int) -> tuple[int, int, int]:
        """Sum, count and days with observations, over ``first_day..last_day`` inclusive."""
        total = count = days = 0
        for day, (amount, n) in self.days.items():
            if first_day <= day <= last_day:
                total += amount
                count += n
                days += 1
        return total, count, days

    def to_json(self) -> dict[str, Any]:
        return {"newest": self.newest_day, "days": [[d, s, n] for d, (s, n) in sorted(self.days.items())]}

    @classmethod
    def from_json(cls, span_days: int, data: dict[str, Any]) -> DayBuckets:
        return cls(span_days, data["newest"], {d: [s, n] for d, s, n in data["days"]})
