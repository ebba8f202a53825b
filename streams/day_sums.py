"""A batch's runs (one key's events each, :mod:`streams.key_runs`) summed per key at once. Pure: no I/O.

The daily detectors (request cost, token drift) keep per-day sums and counts.
Most keys' events in a batch are of one day and cannot fire (a key warming up,
or every value within its threshold): such a key takes its run's sum and count
in one step (``absorb_sums``), and only the rest are judged event by event.
:func:`day_sums` works out what that step reads, for every run in a few NumPy
passes over the batch: a run's day (or that it has several), how many events
it counts, their sum, largest and smallest value, newest time, and its first
and last counted event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

DAY = 86_400
_INT64_MAX = int(np.iinfo(np.int64).max)
_INT64_MIN = int(np.iinfo(np.int64).min)

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class DaySums:
    """Per run, of its counted events: each a list, a run an item."""

    days: list[int]  # their day if all are of one, else -1
    counts: list[int]  # how many (0: none counted)
    sums: list[int]
    most: list[int]
    least: list[int]
    newest: list[int]  # the latest epoch second
    firsts: list[int]  # the first one's index in the batch (a run without any: its first event's)
    lasts: list[int]  # the last one's
    # The eight columns above as rows of one int64 array, where made from arrays: what a native fold
    # reads (:mod:`streams.day_folds`) without converting the lists back.
    array: Ints | None = None


def day_sums(
    order: Ints,
    starts: Sequence[int],
    seconds: Ints,
    values: Sequence[int] | Ints,
    counted: npt.NDArray[np.bool_] | None = None,
) -> DaySums | None:
    """:class:`DaySums` of runs laid end to end (run ``n`` from ``starts[n]``; ``order``: each place's
    event index in the batch, ``seconds`` its epoch second, both in the runs' order), of ``values``
    (one per event of the batch, in the batch's order) of the events ``counted`` (in the runs' order;
    None: all of them). None where a sum might pass 64 bits: then every key is judged event by event.
    """
    if not len(starts):
        return DaySums([], [], [], [], [], [], [], [], np.zeros((8, 0), np.int64))
    try:
        gathered = np.asarray(values, dtype=np.int64)[order]
    except OverflowError:  # a value past 64 bits: Python's integers take it, event by event
        return None
    cuts = np.asarray(starts, dtype=np.int64)
    sizes = np.diff(np.append(cuts, len(order)))
    if len(gathered):
        bound = max(-int(gathered.min()), int(gathered.max()))
        if bound >= _INT64_MAX // int(sizes.max()):
            return None
    days = seconds // DAY
    if counted is None:
        counts = sizes
        low, high = np.minimum.reduceat(days, cuts), np.maximum.reduceat(days, cuts)
        sums = np.add.reduceat(gathered, cuts)
        most, least = np.maximum.reduceat(gathered, cuts), np.minimum.reduceat(gathered, cuts)
        newest = np.maximum.reduceat(seconds, cuts)
        firsts, lasts = order[cuts], order[cuts + sizes - 1]
    else:
        # Over the counted events alone, laid as their runs are: a run with none keeps what the
        # masked passes over the whole run would give it (no day, 0, the extremes' identities, its
        # first event for both ends).
        counts = np.add.reduceat(counted.astype(np.int64), cuts)
        keep = np.flatnonzero(counted)
        some = counts > 0
        inner = (np.cumsum(counts) - counts)[some]  # each such run's first counted, in keep
        k = len(cuts)
        low, high = np.full(k, _INT64_MAX, np.int64), np.full(k, -1, np.int64)
        sums = np.zeros(k, np.int64)
        most, least = np.full(k, _INT64_MIN, np.int64), np.full(k, _INT64_MAX, np.int64)
        newest = np.full(k, _INT64_MIN, np.int64)
        firsts, lasts = order[cuts], order[cuts]
        if len(inner):
            kept_days, kept_values = days[keep], gathered[keep]
            low[some] = np.minimum.reduceat(kept_days, inner)
            high[some] = np.maximum.reduceat(kept_days, inner)
            sums[some] = np.add.reduceat(kept_values, inner)
            most[some] = np.maximum.reduceat(kept_values, inner)
            least[some] = np.minimum.reduceat(kept_values, inner)
            newest[some] = np.maximum.reduceat(seconds[keep], inner)
            firsts[some] = order[keep[inner]]
            lasts[some] = order[keep[inner + counts[some] - 1]]
    one_day = np.where((low == high) & (counts > 0), low, -1)
    array = np.stack((one_day, counts, sums, most, least, newest, firsts, lasts)).astype(np.int64, copy=False)
    day, count, total, high, low, latest, first, last = array.tolist()
    return DaySums(day, count, total, high, low, latest, first, last, array)
