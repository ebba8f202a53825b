"""Window aggregates in a Faust table, changelogged to the customer's partition.

``table[key] = value`` would take the changelog partition from the current
event, and inside a ``take_events`` batch that event may belong to another
customer's partition. Writing through the store and sending the changelog
record explicitly keeps every window on its customer's source partition, so
a rebalance restores it to the worker that owns the customer.

Records go out through aiokafka's batch API (:class:`ChangelogWriter`), not
``table.send_changelog``: a batch changes a few windows per event, and
Faust's per-record path (a FutureMessage, its buffer, one ``send`` each)
cost ~50 µs a record, the largest item in the profile. Faust flushes the
same producer before it commits offsets, so the ordering guarantee stands.

Each partition's event-time watermark is kept in the same table, so the
decision "this window may have been expired" survives a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from streams.aggregation import AGGREGATE_FIELDS, WindowAggregate, WindowKey
from streams.kafka_batches import send_partitions
from streams.stored_windows import StoredWindows
from streams.window_changes import WindowChanges

T = TypeVar("T")
U = TypeVar("U")

_MARK_PREFIX = b"~"  # window keys start with a customer id, never with "~"
_WATERMARK = b"~watermark\x1f"
_EXPIRED_THROUGH = b"~expired-through\x1f"
# The partition's place in WindowAggregate.encode(), counted from the end: rsplit reads only that far.
_PARTITION_FROM_END = len(AGGREGATE_FIELDS) - list(AGGREGATE_FIELDS).index("partition")
_KEY_SEP = b"\x1f"  # WindowKey.encode's separator; a window's size and start are its last two fields
_SECOND, _THIRD = itemgetter(1), itemgetter(2)


def _rows_by(values: npt.NDArray[np.int64]) -> Iterator[tuple[int, list[int] | None]]:
    """Each distinct value and its rows, in order (None: every row): one sort, however many values
    (a day's backfill has a window end a minute)."""
    if not len(values):
        return
    if bool(np.all(values == values[0])):
        yield int(values[0]), None
        return
    order = np.argsort(values, kind="stable")  # each value's rows in their order
    ordered = values[order]
    starts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    rows = order.tolist()
    for value, start, stop in zip(
        ordered[np.concatenate(([0], starts))].tolist(),
        [0, *starts.tolist()],
        [*starts.tolist(), len(rows)],
        strict=True,
    ):
        yield value, rows[start:stop]


def _picked(rows: list[int] | None, first: Sequence[T], second: Sequence[U]) -> Iterable[tuple[T, U]]:
    if rows is None:
        return zip(first, second, strict=True)
    return zip(map(first.__getitem__, rows), map(second.__getitem__, rows), strict=True)


def _dict_of(store: Mapping[bytes, bytes]) -> Mapping[bytes, bytes]:
    """The dict under a Faust memory store (a ``FastUserDict``: reads go straight to it)."""
    inner = getattr(store, "data", None)
    return inner if type(inner) is dict else store


def _is_window(raw_key: bytes) -> bool:
    return not raw_key.startswith(_MARK_PREFIX)


def _mark_key(kind: bytes, partition: int) -> bytes:
    return kind + str(partition).encode()


class ChangelogWriter:
    def __init__(self, table: Any) -> None:
        self.table = table
        self._pending: dict[int, list[tuple[bytes, bytes | None]]] = {}

    def add(self, partition: int, key: bytes, value: bytes | None) -> None:
        self._pending.setdefault(partition, []).append((key, value))

    def records_of(self, partition: int) -> list[tuple[bytes, bytes | None]]:
        """The records pending for ``partition``, to append to: for a loop over a batch's
        windows, which looks a partition's list up once, not once a record."""
        records = self._pending.get(partition)
        if records is None:
            records = self._pending[partition] = []
        return records

    async def flush(self) -> None:
        """Hand every pending record to the producer, one batch per partition."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        # The aiokafka producer under Faust's; Faust flushes it before each commit.
        producer = self.table.app.producer._ensure_producer()
        topic = self.table.changelog_topic.get_topic_name()
        await send_partitions(producer, topic, pending)


class TableState:
    def __init__(self, table: Any, retention: dict[int, int]) -> None:
        self.table = table
        self.retention = retention
        self.changelog = ChangelogWriter(table)
        # When each window may go (end + retention), for expiry without a scan.
        self._due: dict[int, dict[bytes, int]] = {}
        self._indexed = False
        # Expiries and rebalances so far, and as of the last read of stored windows: a batch's
        # windows the store held when read are in the index still, unless one came between.
        self._changes = 0
        self._changes_read = -1

    def get(self, key: WindowKey) -> WindowAggregate | None:
        raw = self.table.data.get(key.encode())
        return WindowAggregate.decode(raw) if raw is not None else None

    def get_many(self, raw_keys: Sequence[bytes]) -> list[WindowAggregate | None]:
        """The windows stored under these encoded keys (``WindowKey.encode()``), None where none is."""
        # The memory store's own dict where it has one: its get() in C, not Mapping.get in Python.
        data, decode = _dict_of(self.table.data), WindowAggregate.decode
        return [None if raw is None else decode(raw) for raw in map(data.get, raw_keys)]

    def stored(self, raw_keys: Sequence[bytes]) -> StoredWindows:
        """:meth:`get_many`'s windows, decoded only as read: in bulk as columns, or one by one."""
        self._changes_read = self._changes
        return StoredWindows(list(map(_dict_of(self.table.data).get, raw_keys)))

    def put(self, key: WindowKey, agg: WindowAggregate) -> None:
        self.put_many({key: agg})

    def put_many(
        self, windows: Mapping[WindowKey, WindowAggregate], raw_keys: Sequence[bytes] | None = None
    ) -> None:
        """Store and changelog each window; ``raw_keys``, where given, are the keys encoded, in order.

        One loop for a batch's windows: the store, its partition map, the
        changelog and the expiry index are looked up once, not once a window.
        """
        if type(windows) is WindowChanges:
            self._put_columns(windows)
            return
        data = self.table.data
        key_partition = getattr(data, "_key_partition", None)  # see _store
        due, retention = self._due, self.retention
        encoded = raw_keys if raw_keys is not None else [key.encode() for key in windows]
        # A batch's windows are of a few partitions: each one's records looked up once.
        records: dict[int, list[tuple[bytes, bytes | None]]] = {}
        for (key, agg), raw_key in zip(windows.items(), encoded, strict=True):
            raw_value, partition = agg.encode(), agg.partition
            data[raw_key] = raw_value
            if key_partition is not None:
                key_partition[raw_key] = partition
            pending = records.get(partition)
            if pending is None:
                pending = records[partition] = self.changelog.records_of(partition)
            pending.append((raw_key, raw_value))
            at = key[4] + key[3] + retention.get(key[3], 0)  # its end, and its retention
            bucket = due.get(at)
            if bucket is None:
                bucket = due[at] = {}
            bucket[raw_key] = partition

    def _put_columns(self, windows: WindowChanges) -> None:
        """:meth:`put_many` of windows as columns: each step a call over all of them, in C, where
        the loop above runs a window at a time (a few hundred thousand a second of a busy fleet)."""
        raw_keys, pairs, partitions = windows.raw_keys, windows.pairs(), windows.partitions()
        data = self.table.data
        data.update(pairs)
        ints = windows.ints  # the partitions its last column, where given
        for partition, chosen in _rows_by(np.array(partitions, np.int64) if ints is None else ints[:, -1]):
            self.changelog.records_of(partition).extend(
                pairs if chosen is None else map(pairs.__getitem__, chosen)
            )
        sizes, ends = windows.sizes, windows.ends.copy()
        if windows.indexed is not None and self._indexed and self._changes == self._changes_read:
            # The store held these windows when read, under the partitions they keep, and nothing
            # dropped any since: the index and the store's partition map have them as they are.
            new = np.flatnonzero(~windows.indexed)
            if len(new) < len(raw_keys):
                sizes, ends = sizes[new], ends[new]
                chosen_rows = new.tolist()
                raw_keys = list(map(raw_keys.__getitem__, chosen_rows))
                partitions = list(map(partitions.__getitem__, chosen_rows))
        key_partition = getattr(data, "_key_partition", None)  # see _store
        if key_partition is not None:
            key_partition.update(zip(raw_keys, partitions, strict=True))
        if not raw_keys:
            return
        for size in np.unique(sizes).tolist():
            ends[sizes == size] += self.retention.get(size, 0)  # when each may go
        due = self._due
        for at, chosen in _rows_by(ends):
            bucket = due.get(at)
            if bucket is None:
                bucket = due[at] = {}
            bucket.update(_picked(chosen, raw_keys, partitions))

    def watermark(self, partition: int) -> int:
        return self._mark(_WATERMARK, partition)

    def set_watermark(self, partition: int, value: int) -> None:
        self._set_mark(_WATERMARK, partition, value)

    def expired_through(self, partition: int) -> int:
        """The watermark the last expiry of this partition ran at."""
        return self._mark(_EXPIRED_THROUGH, partition)

    def _mark(self, kind: bytes, partition: int) -> int:
        raw = self.table.data.get(_mark_key(kind, partition))
        return int(raw) if raw is not None else 0

    def _set_mark(self, kind: bytes, partition: int, value: int) -> None:
        key, raw = _mark_key(kind, partition), str(value).encode()
        self._store(key, raw, partition)
        self.changelog.add(partition, key, raw)

    def forget_index(self) -> None:
        """After a rebalance: the store changes under us, rebuild before expiring.

        Faust restores the store (:mod:`streams.changelog_store`) before it tells of the
        assignment: a store holding no window then (a worker's first start) has the empty
        index whole, and every put keeps it so, so no expiry needs to rebuild it."""
        self._due.clear()
        self._changes += 1
        self._indexed = not any(map(_is_window, _dict_of(self.table.data)))

    async def flush(self) -> None:
        await self.changelog.flush()

    async def expire(self, assigned: Iterable[int]) -> int:
        """Drop windows of assigned partitions closed longer than their retention ago.

        Deletions are changelogged (tombstones) so a restore does not bring
        them back; a late event reloads its window from ClickHouse instead.
        """
        self._changes += 1
        if not self._indexed:
            self._reindex()
        marks = {p: self.watermark(p) for p in assigned}
        highest = max(marks.values(), default=0)
        dropped = 0
        for due in sorted(d for d in self._due if d < highest):
            keys = self._due[due]
            partitions = set(keys.values())
            if partitions <= marks.keys() and all(due < marks[p] for p in partitions):
                del self._due[due]  # the whole bucket goes: no window of it is looked at twice
                dropped += self._drop(keys)
                continue
            for raw_key, partition in list(keys.items()):
                if partition in marks and due < marks[partition]:
                    del keys[raw_key]
                    if self.table.data.pop(raw_key, None) is not None:
                        self.changelog.add(partition, raw_key, None)  # a tombstone
                        dropped += 1
            if not keys:
                del self._due[due]
        for partition, mark in marks.items():
            self._set_mark(_EXPIRED_THROUGH, partition, mark)
        await self.changelog.flush()
        return dropped

    def _drop(self, windows: Mapping[bytes, int]) -> int:
        """Drop ``windows`` (encoded key: partition) from the store, a tombstone for each one
        it held, in their order; how many it held."""
        pop = self.table.data.pop
        records: dict[int, list[tuple[bytes, bytes | None]]] = {}
        held = 0
        for raw_key, partition in windows.items():
            if pop(raw_key, None) is not None:
                pending = records.get(partition)
                if pending is None:
                    pending = records[partition] = self.changelog.records_of(partition)
                pending.append((raw_key, None))
                held += 1
        return held

    def _reindex(self) -> None:
        """The index of every stored window, a field at a time over all of them: a store's keys and
        values split and converted in C, not in a loop a window."""
        self._due.clear()
        data = _dict_of(self.table.data)
        keys, values = list(data), list(data.values())
        marks = np.fromiter(map(bytes.startswith, keys, repeat(_MARK_PREFIX)), np.bool_, len(keys))
        if bool(marks.any()):
            chosen = np.flatnonzero(~marks).tolist()
            keys, values = list(map(keys.__getitem__, chosen)), list(map(values.__getitem__, chosen))
        # The fields needed, not the whole key and aggregate: every stored window is read here.
        # Split once a field, each split's list freed at once: a store's worth of them held at once
        # would make the collector rescan them, at several times the cost of splitting twice.
        tails = (map(bytes.rsplit, keys, repeat(_KEY_SEP), repeat(2)) for _ in range(2))
        sizes = np.fromiter(map(int, map(_SECOND, next(tails))), np.int64, len(keys))
        ends = np.fromiter(map(int, map(_THIRD, next(tails))), np.int64, len(keys)) + sizes
        for size in np.unique(sizes).tolist():
            ends[sizes == size] += self.retention.get(size, 0)  # the window's end, and its retention
        partitions = list(
            map(int, map(_SECOND, map(bytes.rsplit, values, repeat(b","), repeat(_PARTITION_FROM_END))))
        )
        due = self._due
        for at, chosen_rows in _rows_by(ends):
            due[at] = dict(_picked(chosen_rows, keys, partitions))
        self._indexed = True

    def _store(self, raw_key: bytes, raw_value: bytes, partition: int) -> None:
        store = self.table.data
        store[raw_key] = raw_value
        # The memory store drops keys of partitions this worker lost after a
        # rebalance by this map; keep it true for keys written here too.
        key_partition = getattr(store, "_key_partition", None)
        if key_partition is not None:
            key_partition[raw_key] = partition
