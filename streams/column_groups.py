"""Rows grouped by a key with one sort, and exact group sums of int64 columns (``np.add.reduceat``).

The worker's windows (:func:`streams.window_batch.plan_windows`) and the
columnar floor (``bench/columnar``) group a batch's events into cells and
cells into windows with it.

Money and quantities are integers of 1e-12; a group's sum may pass int64
where its values could (a month of a busy customer's token quantities).
Where ``max |value| * rows`` might, each value is split into a high and a
low 32-bit half, both summed in int64 (a half of 2**32 rows cannot pass it)
and joined as Python ints, a group at a time, not an event at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.key_runs import stable_order
from streams.native_extension import native_extension

Ints = npt.NDArray[np.int64]
_SUMMED_AS_IS = (np.dtype(np.int64), np.dtype(object))
Money = npt.NDArray[Any]

_INT64_MAX = 2**63 - 1
_LOW = np.int64(0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class Grouping:
    """Rows grouped by a key: the sort that brings each group together, and where each group starts."""

    order: Ints
    starts: Ints
    group_of: Ints  # each row's group, numbered in key order
    first: Ints  # each group's first row (in ``order``)

    @classmethod
    def by(cls, key: Ints) -> Grouping:
        order = stable_order(key).astype(np.int64)  # a cell's rows in their order, by radix passes
        ordered = key[order]
        starts = np.concatenate(([0], np.flatnonzero(ordered[1:] != ordered[:-1]) + 1)).astype(np.int64)
        if not len(key):
            starts = np.zeros(0, np.int64)
        group_sorted = np.zeros(len(key), np.int64)
        if len(starts) > 1:
            group_sorted[starts[1:]] = 1
        group_of = np.empty(len(key), np.int64)
        group_of[order] = np.cumsum(group_sorted)
        return cls(order, starts, group_of, order[starts])

    @classmethod
    def each(cls, rows: int) -> Grouping:
        """Every row a group of its own, in order: no sort."""
        every = np.arange(rows, dtype=np.int64)
        return cls(every, every, every, every)

    def __len__(self) -> int:
        return len(self.starts)

    def last(self) -> Ints:
        """Each group's last row (in ``order``: its highest where the sort kept rows in order)."""
        ends = np.empty(len(self.starts), np.int64)
        ends[:-1] = self.starts[1:]
        if len(ends):
            ends[-1] = len(self.order)
        return self.order[ends - 1]

    def sum(self, values: Money) -> Money:
        """Each group's sum of ``values``, exactly (int64, or Python ints where it might not fit)."""
        if not len(self.starts):
            return np.zeros(0, np.int64)
        ordered = values[self.order]
        largest = 0 if ordered.dtype == object else max(int(ordered.max()), -int(ordered.min()))
        if ordered.dtype == object or largest * len(ordered) <= _INT64_MAX:
            sums: Money = np.add.reduceat(ordered, self.starts)
            return sums
        high = np.add.reduceat(ordered >> 32, self.starts).astype(object)
        low = np.add.reduceat(ordered & _LOW, self.starts).astype(object)
        joined: Money = high * (1 << 32) + low
        return joined

    def max(self, values: Ints) -> Ints:
        return np.maximum.reduceat(values[self.order], self.starts) if len(self.starts) else values[:0]

    def min(self, values: Ints) -> Ints:
        return np.minimum.reduceat(values[self.order], self.starts) if len(self.starts) else values[:0]

    def add(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Each group's sum of ``values`` (rows of any width, any dtype), in rows' order, as ``+`` adds them:
        no check of int64's range (the caller's), Decimals summed in C, not a Python loop."""
        if not len(self.starts):
            return values[:0]
        if len(self.starts) == len(values) and values.dtype in _SUMMED_AS_IS:
            return values[self.order]  # a row a group: its sum is the row (reduceat widens narrower ints)
        if values.dtype != np.int64:  # objects (Decimals) add in rows' order, as the sort keeps them
            return np.add.reduceat(values[self.order], self.starts, axis=0)
        # int64s add alike in any order (wrapping alike too): scattered a column at a time into their
        # groups' sums, in C, without the sort's gather of every row (a third of the time for 100k rows).
        columns = np.ascontiguousarray(values.reshape(len(values), -1).T)
        sums = np.zeros((len(columns), len(self.starts)), values.dtype)
        for column, into in zip(columns, sums, strict=True):
            np.add.at(into, self.group_of, column)
        return np.ascontiguousarray(sums.T).reshape(len(self.starts), *values.shape[1:])


def combine(*codes: Ints) -> Ints:
    """One code per distinct row of the columns, compact (below the rows' count): no overflow."""
    combined = codes[0]
    for column in codes[1:]:
        width = int(column.max(initial=0)) + 1
        if int(combined.max(initial=0)) + 1 > _INT64_MAX // width:
            combined = np.unique(combined, return_inverse=True)[1].reshape(-1).astype(np.int64)
        combined = combined * width + column
    return combined


def codes(names: Sequence[str]) -> tuple[Ints, list[str]]:
    """Each row's name numbered in order of first sight, and the names so numbered (each one's
    first object): :class:`Numbering`'s, natively where built (native/src/codes.rs: rows that are one
    object numbered by pointer, ~5x cheaper for a batch's customers, agents and categories)."""
    if _native is not None and type(names) is list:
        try:
            raw, distinct = _native.name_codes(names)
        except (TypeError, UnicodeEncodeError):  # not all str, or a lone surrogate: Python's dict decides
            pass
        else:
            return np.frombuffer(raw, np.int64), distinct
    numbering = Numbering()
    numbered = np.fromiter(map(numbering.__getitem__, names), np.int64, len(names))
    return numbered, list(numbering)


# COSTLINE_NAME_CODES=python asks for codes' reference.
_native = native_extension("COSTLINE_NAME_CODES", "name_codes")


class Numbering(dict[Any, int]):
    """Each key numbered from 0 in order of first sight, as it is first looked up: a column's
    numbers in one pass in C, the dictionary's own code running only for a new key."""

    __slots__ = ()

    def __missing__(self, key: Any) -> int:
        self[key] = number = len(self)
        return number
