"""The stored state of a batch's windows, read as columns: no :class:`WindowAggregate` per window.

:func:`streams.window_batch.fold_plan` needs each window's mark and the
fields it adds to; decoding every stored record into an object (a split,
twelve conversions and a construction each) cost more than the sums. Here
the records of current form (``p``, twelve fields) are joined and split
once and each field converted a column at a time; any record of another
form (the first one, money in USD) sends the whole batch the objects' way.
Read one by one (``stored[i]``), a window is decoded alone, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from itertools import repeat
from operator import attrgetter, is_not, itemgetter
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from streams.aggregation import AGGREGATE_FIELDS, WindowAggregate

Ints = npt.NDArray[np.int64]

_FIELDS = len(AGGREGATE_FIELDS)
_CONVERT = [Decimal if kind is Decimal else int for kind in AGGREGATE_FIELDS.values()]
_MARK = list(AGGREGATE_FIELDS).index("last_offset")
_ALL_FIELDS = attrgetter(*AGGREGATE_FIELDS)
_AFTER_TAG = itemgetter(slice(1, None))


class StoredWindows(Sequence[WindowAggregate | None]):
    """Each window's stored record (``WindowAggregate.encode()``), None where it has none."""

    __slots__ = ("_columns", "_in_store", "_loaded", "raws")

    def __init__(self, raws: list[bytes | None]) -> None:
        self.raws = raws
        self._loaded: dict[int, WindowAggregate | None] = {}  # read elsewhere (a late window's snapshot)
        self._columns: tuple[Ints, list[list[Any]]] | None = None
        self._in_store: npt.NDArray[np.bool_] | None = None

    def __len__(self) -> int:
        return len(self.raws)

    @overload
    def __getitem__(self, index: int) -> WindowAggregate | None: ...
    @overload
    def __getitem__(self, index: slice) -> list[WindowAggregate | None]: ...
    def __getitem__(self, index: int | slice) -> WindowAggregate | list[WindowAggregate | None] | None:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index in self._loaded:
            return self._loaded[index]
        raw = self.raws[index]
        return None if raw is None else WindowAggregate.decode(raw)

    def load(self, index: int, window: WindowAggregate | None) -> None:
        """The window at ``index`` as read from elsewhere, in place of its record."""
        self._loaded[index] = window
        self._columns = None

    def in_store(self) -> npt.NDArray[np.bool_]:
        """Which windows have a record (in C: no window decoded), whatever was loaded since."""
        if self._in_store is None:
            self._in_store = np.fromiter(map(is_not, self.raws, repeat(None)), np.bool_, len(self.raws))
        return self._in_store

    def missing(self) -> npt.NDArray[np.bool_]:
        """Which windows have no record (in C: no window decoded)."""
        absent = ~self.in_store()
        for index, window in self._loaded.items():
            absent[index] = window is None
        return absent

    def marks(self) -> Ints:
        """Each window's ``last_offset``, -1 where it has none."""
        held, columns = self._read()
        marks = np.full(len(self.raws), -1, np.int64)
        if len(held):
            marks[held] = np.array(columns[_MARK], dtype=object)  # exact; past int64 would raise
        return marks

    def fields(self, rows: Ints) -> list[list[Any]]:
        """Every field of the windows ``rows`` (each has a record), a column a field in
        :data:`AGGREGATE_FIELDS`' order."""
        held, columns = self._read()
        at = np.searchsorted(held, rows).tolist()
        return [list(map(column.__getitem__, at)) for column in columns]

    def _read(self) -> tuple[Ints, list[list[Any]]]:
        """The rows with a window, and their fields as columns: parsed once."""
        if self._columns is None:
            absent = self.missing()
            held = np.flatnonzero(~absent)
            columns = _parsed([self.raws[i] for i in held.tolist()]) if not self._loaded else None
            if columns is None:  # a window read elsewhere, or a record of the first form
                windows = list(map(self.__getitem__, held.tolist()))
                columns = [list(column) for column in zip(*map(_ALL_FIELDS, windows), strict=True)]
                if not columns:
                    columns = [[] for _ in range(_FIELDS)]
            self._columns = (held, columns)
        return self._columns


def _parsed(raws: list[Any]) -> list[list[Any]] | None:
    """The records' fields as columns, converted as ``WindowAggregate.decode`` converts them; None
    where a record is not of the current form."""
    if not raws:
        return [[] for _ in range(_FIELDS)]
    joined = b",".join(raws)
    # Only the current form's tag is a "p" (the first form's fields are numbers): one each, so
    # every record leads with it.
    if joined.count(b"p") != len(raws):
        return None
    texts = joined.decode().split(",")
    if len(texts) != _FIELDS * len(raws):
        return None
    columns = [texts[field::_FIELDS] for field in range(_FIELDS)]
    columns[0] = list(map(_AFTER_TAG, columns[0]))
    return [list(map(convert, column)) for convert, column in zip(_CONVERT, columns, strict=True)]
