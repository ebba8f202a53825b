"""ISO 8601 UTC times of a whole column at once, as int64 microseconds since the epoch.

Only the forms the worker's fast path reads (``streams.event_fast_path._UTC_TIME``):
``YYYY-MM-DDTHH:MM:SS``, an optional fraction of 1 to 6 digits, then ``Z`` or
``+00:00``, years 1970 to 2099. Anything else is marked, never guessed at: its
message takes the worker's own path, which decides it as the worker does.

The column is joined into one buffer and each field read at its offset from
every time's start, as bytes: no array of fixed-width text an event.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

_BASE = 19  # YYYY-MM-DDTHH:MM:SS
_FIXED = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":"}
_OFFSET = b"+00:00"
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)
_ZERO = ord("0")


def parse_utc(texts: Sequence[str]) -> tuple[Ints, Mask]:
    """Each text's microseconds since the epoch, and which texts are of a form read here."""
    n = len(texts)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.bool_)
    # One byte a character either way: a character past ASCII becomes '?', which no check passes.
    data = np.frombuffer("".join(texts).encode("ascii", errors="replace") + bytes(32), np.uint8)
    lengths = np.fromiter(map(len, texts), np.int64, n)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    ok = lengths >= _BASE + 1

    def at(offset: int | Ints) -> Ints:
        found: Ints = data[starts + offset].astype(np.int64)
        return found

    def digits(*offsets: int) -> Ints:
        value = np.zeros(n, np.int64)
        nonlocal ok
        for offset in offsets:
            d = at(offset) - _ZERO
            ok &= (d >= 0) & (d <= 9)
            value = value * 10 + d
        return value

    year, month, day = digits(0, 1, 2, 3), digits(5, 6), digits(8, 9)
    hour, minute, second = digits(11, 12), digits(14, 15), digits(17, 18)
    for place, separator in _FIXED.items():
        ok &= at(place) == ord(separator)
    last = data[np.maximum(ends - 1, 0)]
    zulu = last == ord("Z")
    utc_offset = np.ones(n, np.bool_)
    for back, code in enumerate(reversed(_OFFSET), 1):
        utc_offset &= data[np.maximum(ends - back, 0)] == code
    fraction = lengths - _BASE - np.where(zulu, 1, 6)  # the point and its digits
    ok &= (zulu | utc_offset) & ((fraction == 0) | ((fraction >= 2) & (fraction <= 7)))
    micro = np.zeros(n, np.int64)
    has_fraction = fraction > 0
    ok &= ~has_fraction | (at(_BASE) == ord("."))
    for place in range(6):
        inside = place < fraction - 1
        d = np.where(inside, at(np.minimum(_BASE + 1 + place, lengths - 1)) - _ZERO, 0)
        ok &= ~inside | ((d >= 0) & (d <= 9))
        micro = micro * 10 + d
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[np.clip(month, 0, 12)] + (leap & (month == 2))
    ok &= (year >= 1970) & (year <= 2099) & (month >= 1) & (month <= 12) & (day >= 1)
    ok &= (day <= month_days) & (hour < 24) & (minute < 60) & (second < 60)
    seconds = _days(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
    return np.where(ok, seconds * 1_000_000 + micro, 0), ok


def _days(year: Ints, month: Ints, day: Ints) -> Ints:
    """Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil)."""
    y = year - (month <= 2)
    era = y // 400
    of_era = y - era * 400
    shifted = (month + 9) % 12
    of_year = (153 * shifted + 2) // 5 + day - 1
    of_cycle = of_era * 365 + of_era // 4 - of_era // 100 + of_year
    days: Ints = era * 146_097 + of_cycle - 719_468
    return days
