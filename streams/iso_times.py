"""ISO 8601 UTC times of a whole column at once, as int64 microseconds since the epoch.

Only the forms the worker's fast path reads (``streams.event_fast_path._UTC_TIME``):
``YYYY-MM-DDTHH:MM:SS``, an optional fraction of 1 to 6 digits, then ``Z`` or
``+00:00``, years 1970 to 2099. Anything else is marked, never guessed at: its
message takes the worker's own path, which decides it as the worker does.

The column is joined into one buffer (NUL between texts), and each time's first 26 bytes are
taken at its start in one gather (a window of the buffer a row), then turned
so each character place is one contiguous array over the column: every
check and field is a few NumPy operations on those, and days since the epoch
come from a table of the months of 1970 to 2099.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

_BASE = 19  # YYYY-MM-DDTHH:MM:SS
_SEPARATORS = np.array([4, 7, 10, 13, 16], np.intp)
_SEPARATOR_CODES = np.frombuffer(b"--T::", np.uint8)[:, None]
_OFFSET = b"+00:00"
# A time's last 8 bytes as one little-endian integer: its last 6 are the offset where it has one.
_LAST_SIX = np.uint64(0xFFFF_FFFF_FFFF_0000)
_OFFSET_BITS = np.frombuffer(bytes(2) + _OFFSET, "<u8")[0]
# Where each digit is: year (4), month, day, hour, minute, second (2 each), then six of the fraction.
_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, *range(_BASE + 1, _BASE + 7)], np.intp)
_PLACES = np.arange(6)[:, None]  # the fraction's places
_POWERS = 10 ** np.arange(5, -1, -1, dtype=np.int64)[:, None]  # their microseconds
_EPOCH_DAY = date(1970, 1, 1).toordinal()
# Per month of 1970 to 2099 ((year - 1970) * 12 + month - 1): its first day since the epoch, its days.
_MONTH_START = np.array(
    [date(y, m, 1).toordinal() - _EPOCH_DAY for y in range(1970, 2100) for m in range(1, 13)], np.int64
)
_MONTH_DAYS = np.array(
    [calendar.monthrange(y, m)[1] for y in range(1970, 2100) for m in range(1, 13)], np.int64
)


def parse_utc(texts: Sequence[str]) -> tuple[Ints, Mask]:
    """Each text's microseconds since the epoch, and which texts are of a form read here."""
    n = len(texts)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.bool_)
    # One byte a character either way: a character past ASCII becomes '?', which no check passes.
    # NUL between the texts: where none holds one, the separators are the ends, found in the
    # buffer (asking each text its length reads every text object again, out of cache by now).
    # Padded past the end, so every window from a start lands in the buffer.
    joined = "\x00".join(texts)
    data = np.frombuffer(joined.encode("ascii", errors="replace") + bytes(32), np.uint8)
    ends = np.flatnonzero(data[: len(joined)] == 0)
    if len(ends) == n - 1:
        ends = np.append(ends, len(joined))
    else:  # a NUL in a text (no form read here holds one): each text's own length
        ends = np.cumsum(np.fromiter(map(len, texts), np.int64, n) + 1) - 1
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts
    places = sliding_window_view(data, _BASE + 7)[starts].T  # places[i]: every time's character i
    zulu = data[np.maximum(ends - 1, 0)] == ord("Z")
    fraction = lengths - _BASE - np.where(zulu, 1, len(_OFFSET))  # the point and its digits
    ok = (lengths > _BASE) & ((fraction == 0) | ((fraction >= 2) & (fraction <= 7)))
    last_eight = sliding_window_view(data, 8)[np.maximum(ends - 8, 0)].view("<u8")[:, 0]
    ok &= zulu | ((last_eight & _LAST_SIX) == _OFFSET_BITS)
    ok &= (places[_SEPARATORS] == _SEPARATOR_CODES).all(axis=0)
    ok &= (fraction == 0) | (places[_BASE] == ord("."))
    digits = places[_DIGITS] - np.uint8(ord("0"))  # uint8: a character below '0' wraps past 9
    digits[-6:] *= fraction - 1 > _PLACES  # places past the fraction's digits: 0
    ok &= digits.max(axis=0) < 10
    d = digits.astype(np.int64)
    year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3]
    month, day, hour, minute, second = (d[i] * 10 + d[i + 1] for i in range(4, 14, 2))
    micro = (d[-6:] * _POWERS).sum(axis=0)
    ok &= (year >= 1970) & (year <= 2099) & (month >= 1) & (month <= 12) & (day >= 1)
    month_index = np.where(ok, (year - 1970) * 12 + month - 1, 0)
    ok &= (day <= _MONTH_DAYS[month_index]) & (hour < 24) & (minute < 60) & (second < 60)
    seconds = (_MONTH_START[month_index] + day - 1) * 86_400 + hour * 3600 + minute * 60 + second
    return np.where(ok, seconds * 1_000_000 + micro, 0), ok
