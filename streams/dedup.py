"""Recently counted ``event_id``s per source partition.

A producer that retries publishes the same ``event_id`` again at a new
offset. The worker remembers the ids it counted during the last
``window_seconds`` (processing time) and drops a repeat. Ids are kept in
two generations of sets, so memory is bounded by the events of one to two
half-windows; at 100k events/s and a 10 minute window that is up to 60M
ids, about 100 bytes each in CPython, so size the window to the rate
(``COSTLINE_DEDUP_WINDOW_S``).

The sets live in memory only. After a restart or a rebalance, a partition's
set is rebuilt from the ClickHouse ledger before its first batch: ids
ingested within the window at offsets *below* the batch's first offset.
Ledger rows at or above it were written by an attempt that died before its
offsets were committed; those events are being replayed now, so they are
not duplicates of themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable


class PartitionDedup:
    def __init__(self, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._half = window_seconds / 2
        self._clock = clock
        self._current: set[str] = set()
        self._previous: set[str] = set()
        self._rotated_at = clock()

    def _rotate(self) -> None:
        now = self._clock()
        if now - self._rotated_at >= self._half:
            self._previous = self._current if now - self._rotated_at < 2 * self._half else set()
            self._current = set()
            self._rotated_at = now

    def seen(self, event_id: str) -> bool:
        return event_id in self._current or event_id in self._previous

    def add(self, event_id: str) -> None:
        self._rotate()
        self._current.add(event_id)

    def update(self, event_ids: Iterable[str]) -> None:
        self._rotate()
        self._current.update(event_ids)

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)


class DedupIndex:
    """One :class:`PartitionDedup` per assigned source partition."""

    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self._partitions: dict[int, PartitionDedup] = {}

    def get(self, partition: int) -> PartitionDedup | None:
        return self._partitions.get(partition)

    def install(self, partition: int, event_ids: Iterable[str]) -> PartitionDedup:
        dedup = PartitionDedup(self.window_seconds)
        dedup.update(event_ids)
        self._partitions[partition] = dedup
        return dedup

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._partitions.pop(partition, None)

    def __len__(self) -> int:
        return sum(len(d) for d in self._partitions.values())
