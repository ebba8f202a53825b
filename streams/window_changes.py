"""A batch's changed windows as columns: a field a list, no :class:`WindowAggregate` per window.

:func:`streams.window_batch.fold_plan` sums a batch's windows as columns;
the table's store and changelog (:meth:`streams.window_state.TableState.put_many`)
and the sink's Native block (:func:`streams.sinks.table_columns.window_change_columns`)
read them as columns too. Objects cost a construction each and a read of
every field again in each reader, for ~0.3-1.2 windows an event.

It is still the mapping every other reader takes (window key to aggregate):
the event-by-event fold's fallbacks, the probe of refused rows, tests. Its
objects are made once, on the first such read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from types import ModuleType
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from streams.aggregation import AGGREGATE_FIELDS, WindowAggregate, WindowKey
from streams.native_extension import native_extension

# The changelog's form (WindowAggregate.encode()): the tag, every field as text in order; quantity
# a Decimal's text (%b of its str()), every other field an int (%d).
_RECORD = (b"p" + b",".join(b"%b" if name == "quantity" else b"%d" for name in AGGREGATE_FIELDS)).__mod__
_QUANTITY = list(AGGREGATE_FIELDS).index("quantity")
_FIELDS = len(AGGREGATE_FIELDS)
_SIZE, _START = itemgetter(3), itemgetter(4)  # a WindowKey's
Ints = npt.NDArray[np.int64]
_SEP = "\x1f"  # WindowKey.encode's separator


def _load_native() -> ModuleType | None:
    """The native keys' and records' bytes (``window_keys``, ``window_records`` of streams._wire_scan,
    built from native/src/windows.rs where cargo was found), unless COSTLINE_WINDOW_BYTES=python asks
    for this module's own (the reference)."""
    return native_extension("COSTLINE_WINDOW_BYTES", "window_records")


_native = _load_native()


@dataclass(slots=True)
class KeyColumns:
    """Windows' keys as codes, a column a field: ``names[field][code]`` is the name; sizes and starts
    as they are. A WindowKey a window is made only where one is read."""

    customers: Ints
    agents: Ints
    categories: Ints
    sizes: Ints
    starts: Ints
    names: tuple[list[str], list[str], list[str]]

    def __len__(self) -> int:
        return len(self.sizes)

    def take(self, rows: Ints | slice) -> KeyColumns:
        return KeyColumns(
            self.customers[rows], self.agents[rows], self.categories[rows], self.sizes[rows],
            self.starts[rows], self.names,
        )  # fmt: skip

    def texts(self) -> list[list[Any]]:
        """The keys' fields in WindowKey's order, a list a field (names as str)."""
        named = (
            list(map(names.__getitem__, codes.tolist()))
            for names, codes in zip(self.names, (self.customers, self.agents, self.categories), strict=True)
        )
        return [*named, self.sizes.tolist(), self.starts.tolist()]

    def keys(self) -> list[WindowKey]:
        return list(map(tuple.__new__, repeat(WindowKey), zip(*self.texts(), strict=True)))

    def encoded(self) -> list[bytes]:
        """``WindowKey.encode()`` of each window: made natively where the extension is built,
        else by :meth:`encoded_here`."""
        if _native is None:
            return self.encoded_here()
        found: list[bytes] = _native.window_keys(
            *(np.ascontiguousarray(column, np.int64) for column in self._columns()), self.names
        )
        return found

    def _columns(self) -> tuple[Ints, Ints, Ints, Ints, Ints]:
        return self.customers, self.agents, self.categories, self.sizes, self.starts

    def encoded_here(self) -> list[bytes]:
        """:meth:`encoded` in Python (the reference): UTF-8 of a join is the join of UTF-8s. A
        (customer, agent, category)'s text is made once, for both sizes; a (size, start)'s once."""
        customers, agents, categories = self.names
        width_agents, width_categories = len(agents), len(categories)
        named = (self.customers * width_agents + self.agents) * width_categories + self.categories
        distinct, which = np.unique(named, return_inverse=True)
        prefixes = [
            f"{customers[c]}{_SEP}{agents[a]}{_SEP}{categories[k]}{_SEP}".encode()
            for c, a, k in zip(
                (distinct // (width_agents * width_categories)).tolist(),
                (distinct // width_categories % width_agents).tolist(),
                (distinct % width_categories).tolist(),
                strict=True,
            )
        ]
        lowest = int(self.starts.min(initial=0))
        timed = self.sizes * (int(self.starts.max(initial=0)) - lowest + 1) + (self.starts - lowest)
        times, when = np.unique(timed, return_inverse=True)
        first = np.unique(when, return_index=True)[1]
        suffixes = [
            f"{size}{_SEP}{start}".encode()
            for size, start in zip(self.sizes[first].tolist(), self.starts[first].tolist(), strict=True)
        ]
        assert len(suffixes) == len(times)
        return list(
            map(
                bytes.__add__,
                map(prefixes.__getitem__, which.reshape(-1).tolist()),
                map(suffixes.__getitem__, when.reshape(-1).tolist()),
            )
        )

    def key(self, index: int) -> WindowKey:
        customers, agents, categories = self.names
        return WindowKey(
            customers[self.customers[index]], agents[self.agents[index]], categories[self.categories[index]],
            int(self.sizes[index]), int(self.starts[index]),
        )  # fmt: skip


class WindowChanges(Mapping[WindowKey, WindowAggregate]):
    """Windows and their new state: ``columns[i]`` is :data:`AGGREGATE_FIELDS`' i-th field of each
    window, in ``window_keys``' order; ``raw_keys`` are the keys encoded (``WindowKey.encode()``)."""

    __slots__ = ("_keys", "_made", "columns", "ends", "indexed", "ints", "key_columns", "raw_keys", "sizes")

    def __init__(
        self,
        keys: list[WindowKey] | None,
        raw_keys: list[bytes],
        columns: list[list[Any]],
        sizes: Ints | None = None,
        ends: Ints | None = None,
        indexed: npt.NDArray[np.bool_] | None = None,
        key_columns: KeyColumns | None = None,
        ints: Ints | None = None,
    ) -> None:
        """``keys`` or ``key_columns``: the windows' keys, as objects or as columns (their objects
        made only where read); ``sizes`` and ``ends``: the keys' (read from them where not given);
        ``indexed``: which windows the store holds already under the partition they keep (None:
        not known); ``ints``: where given, ``columns``' integer fields again as one (windows, 11)
        int64 array, C-contiguous, in their order (quantity aside), for :meth:`records`."""
        assert len(columns) == len(AGGREGATE_FIELDS)
        assert keys is not None or key_columns is not None
        self._keys = keys
        self.key_columns = key_columns
        self.raw_keys = raw_keys
        self.columns = columns
        if sizes is None or ends is None:
            if key_columns is not None:
                sizes, ends = key_columns.sizes, key_columns.starts + key_columns.sizes
            else:
                assert keys is not None
                sizes = np.fromiter(map(_SIZE, keys), np.int64, len(keys))
                ends = np.fromiter(map(_START, keys), np.int64, len(keys)) + sizes
        self.sizes, self.ends = sizes, ends
        self.indexed = indexed
        self.ints = ints
        self._made: dict[WindowKey, WindowAggregate] | None = None

    @property
    def window_keys(self) -> list[WindowKey]:
        """Each window's key, made on the first read where the keys came as columns."""
        if self._keys is None:
            assert self.key_columns is not None
            self._keys = self.key_columns.keys()
        return self._keys

    def key_texts(self, where: slice = slice(None)) -> list[list[Any]]:
        """The keys ``where`` a field at a time, in WindowKey's order (names as str)."""
        if self._keys is None and self.key_columns is not None:
            return self.key_columns.take(where).texts()
        keys = self.window_keys[where]
        return [list(field) for field in zip(*keys, strict=True)] if keys else [[] for _ in range(5)]

    def __len__(self) -> int:
        return len(self.raw_keys)

    def __iter__(self) -> Iterator[WindowKey]:
        return iter(self.window_keys)

    def __getitem__(self, key: WindowKey) -> WindowAggregate:
        return self.objects()[key]

    def __contains__(self, key: object) -> bool:
        return key in self.objects()

    def objects(self) -> dict[WindowKey, WindowAggregate]:
        """Every window's aggregate, made on the first call."""
        if self._made is None:
            self._made = dict(zip(self.window_keys, map(WindowAggregate, *self.columns), strict=True))
        return self._made

    def records(self) -> list[bytes]:
        """``WindowAggregate.encode()`` of each window: made natively from ``ints`` where both are
        there, else by :meth:`records_here`."""
        if _native is None or self.ints is None:
            return self.records_here()
        quantities = self.columns[_QUANTITY]
        found: list[bytes] = _native.window_records(
            self.ints.reshape(-1),
            _FIELDS - 1,
            quantities if type(quantities) is list else list(quantities),
            _QUANTITY,
        )
        return found

    def pairs(self) -> list[tuple[bytes, bytes]]:
        """Each window's ``(raw key, record)``, for the store and the changelog at once: made
        natively where :meth:`records` is, else its records zipped with ``raw_keys``."""
        if _native is None or self.ints is None:
            return list(zip(self.raw_keys, self.records_here(), strict=True))
        quantities, keys = self.columns[_QUANTITY], self.raw_keys
        found: list[tuple[bytes, bytes]] = _native.window_records(
            self.ints.reshape(-1),
            _FIELDS - 1,
            quantities if type(quantities) is list else list(quantities),
            _QUANTITY,
            keys if type(keys) is list else list(keys),
        )
        return found

    def records_here(self) -> list[bytes]:
        """:meth:`records` in Python (the reference), from the columns: one format a window."""
        columns = list(self.columns)
        columns[_QUANTITY] = list(map(str.encode, map(str, columns[_QUANTITY])))
        return list(map(_RECORD, zip(*columns, strict=True)))

    def partitions(self) -> list[int]:
        partitions: list[int] = self.columns[-1]
        return partitions

    def rows(self) -> WindowRows:
        """The windows as (key, aggregate) rows, sliced without making the aggregates."""
        return WindowRows(self, slice(None))


assert list(AGGREGATE_FIELDS)[-1] == "partition"  # WindowChanges.partitions


class WindowRows(Sequence[tuple[WindowKey, WindowAggregate]]):
    """Some of a :class:`WindowChanges`' windows (``where``), as rows; a slice is another view."""

    __slots__ = ("changes", "where")

    def __init__(self, changes: WindowChanges, where: slice) -> None:
        self.changes = changes
        self.where = where

    def __len__(self) -> int:
        return len(range(*self.where.indices(len(self.changes))))

    @overload
    def __getitem__(self, index: int) -> tuple[WindowKey, WindowAggregate]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[WindowKey, WindowAggregate]]: ...
    def __getitem__(
        self, index: int | slice
    ) -> tuple[WindowKey, WindowAggregate] | Sequence[tuple[WindowKey, WindowAggregate]]:
        at = range(*self.where.indices(len(self.changes)))[index]
        if isinstance(at, range):
            if at.step != 1:
                return [self.changes.rows()[i] for i in at]
            return WindowRows(self.changes, slice(at.start, at.stop))
        key = self.changes.window_keys[at]
        return key, self.changes.objects()[key]

    def window_keys(self) -> list[WindowKey]:
        return self.changes.window_keys[self.where]

    def key_texts(self) -> list[list[Any]]:
        """The keys' fields, a list a field (:meth:`WindowChanges.key_texts`)."""
        return self.changes.key_texts(self.where)

    def columns(self) -> list[list[Any]]:
        return [column[self.where] for column in self.changes.columns]

    def key_columns(self) -> KeyColumns | None:
        """The keys as codes (:class:`KeyColumns`), where the windows came with them."""
        keys = self.changes.key_columns
        return None if keys is None else keys.take(self.where)
