"""ClickHouse and worker state replaced by lists and dicts, for driving the processor in unit tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from streams.aggregation import Counted, WindowAggregate, WindowKey
from streams.dedup import CountedId, Hashes, Seconds, id_hashes
from streams.stored_windows import StoredWindows
from streams.window_batch import EventColumns

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Clock:
    """Wall-clock time that a test moves by hand."""

    def __init__(self, at: str = "2026-11-20T12:00:00Z") -> None:
        self.now = datetime.fromisoformat(at).timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class LedgerRow:
    customer_id: str
    event_id: str
    occurred_at: datetime
    partition: int
    position: int
    ingested_at: float
    cost: Any


class FakeSink:
    """The ledger, its ``event_ids`` view, window snapshots and dead letters, in memory.

    Like ReplacingMergeTree read with FINAL, a ledger row written again with the
    same (customer, occurred_at, event_id) replaces the earlier one.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.ledger: dict[tuple[str, datetime, str], LedgerRow] = {}
        self.event_ids: list[LedgerRow] = []  # every row ever written, as the view sees inserts
        self.windows: dict[WindowKey, WindowAggregate] = {}
        self.dead: list[Sequence[Any]] = []
        self.lookups = 0  # window snapshot queries
        self.id_lookups: list[list[tuple[str, str]]] = []  # counted_ids queries
        self.rebuilds: list[int] = []  # partitions whose id hashes were read

    async def write(
        self,
        counted: Sequence[Counted],
        windows: Mapping[WindowKey, WindowAggregate],
        dead_letters: Sequence[Sequence[Any]] = (),
        *,
        columns: EventColumns | None = None,
        meanwhile: Callable[[], object] | None = None,
    ) -> None:
        assert columns is None or list(columns.counted) == list(counted), "the columns are of other events"
        if meanwhile is not None:
            meanwhile()  # as the real sink does, once the ledger's rows are on their way
        for partition, pos, priced in counted:
            e = priced.event
            row = LedgerRow(
                e.customer_id, e.event_id, e.occurred_at, partition, pos, self.clock(), priced.cost
            )
            self.ledger[(e.customer_id, e.occurred_at, e.event_id)] = row
            self.event_ids.append(row)
        self.windows.update((k, v.copy()) for k, v in windows.items())
        self.dead.extend(dead_letters)

    async def probe(
        self, counted: Sequence[Counted] = (), windows: Mapping[WindowKey, WindowAggregate] | None = None
    ) -> None:
        """Takes every row, as the real tables do unless a test says otherwise."""

    async def counted_ids(
        self, pairs: Iterable[tuple[str, str]], meanwhile: Callable[[], object] | None = None
    ) -> dict[tuple[str, str], list[CountedId]]:
        if meanwhile is not None:
            meanwhile()
        wanted = list(pairs)
        self.id_lookups.append(wanted)
        found: dict[tuple[str, str], list[CountedId]] = {}
        for row in self.event_ids:
            pair = (row.customer_id, row.event_id)
            if pair in wanted:
                micros = (row.occurred_at - _EPOCH) // timedelta(microseconds=1)
                found.setdefault(pair, []).append(
                    CountedId(row.partition, row.position, row.ingested_at, micros)
                )
        return found

    async def counted_id_hashes(self, partition: int, since: float) -> tuple[Hashes, Seconds]:
        self.rebuilds.append(partition)
        rows = [r for r in self.event_ids if r.partition == partition and r.ingested_at >= since]
        hashes = id_hashes((r.customer_id, r.event_id) for r in rows)
        return hashes, np.array([r.ingested_at for r in rows], dtype=np.float64)

    async def load_windows(self, keys: Iterable[WindowKey]) -> dict[WindowKey, WindowAggregate]:
        self.lookups += 1
        return {k: self.windows[k].copy() for k in keys if k in self.windows}


class DictState:
    def __init__(self) -> None:
        self.windows: dict[WindowKey, WindowAggregate] = {}
        self.marks: dict[int, int] = {}
        self.expired: dict[int, int] = {}

    def get(self, key: WindowKey) -> WindowAggregate | None:
        return self.windows.get(key)

    def get_many(self, raw_keys: Sequence[bytes]) -> list[WindowAggregate | None]:
        return [self.windows.get(WindowKey.decode(raw)) for raw in raw_keys]

    def stored(self, raw_keys: Sequence[bytes]) -> StoredWindows:
        return StoredWindows([None if w is None else w.encode() for w in self.get_many(raw_keys)])

    def put(self, key: WindowKey, agg: WindowAggregate) -> None:
        self.windows[key] = agg

    def put_many(
        self, windows: Mapping[WindowKey, WindowAggregate], raw_keys: Sequence[bytes] | None = None
    ) -> None:
        self.windows.update(windows)

    def watermark(self, partition: int) -> int:
        return self.marks.get(partition, 0)

    def set_watermark(self, partition: int, value: int) -> None:
        self.marks[partition] = value

    def expired_through(self, partition: int) -> int:
        return self.expired.get(partition, 0)

    async def flush(self) -> None:
        pass


class FakeBatch:
    """An aiokafka ``BatchBuilder`` holding at most ``room`` records."""

    def __init__(self, room: int) -> None:
        self.records: list[tuple[bytes, bytes | None]] = []
        self.room = room

    def append(self, *, key: bytes, value: bytes | None, timestamp: None) -> object | None:
        if len(self.records) >= self.room:
            return None  # full, as aiokafka says it
        self.records.append((key, value))
        return object()


class FakeProducer:
    """The aiokafka producer's batch API: what was sent, to which partition, and whether it was acked."""

    def __init__(self, partitions: Iterable[int] = range(8), batch_room: int = 1_000) -> None:
        self.partitions = set(partitions)
        self.batch_room = batch_room
        self.sent: list[tuple[str, int, bytes, bytes | None]] = []
        self.sent_batches: list[tuple[int, list[tuple[bytes, bytes | None]]]] = []  # (partition, records)
        self.batches = 0
        self.deliveries: list[Any] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return self.partitions

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.batch_room)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        assert partition in self.partitions
        self.sent.extend((topic, partition, key, value) for key, value in batch.records)
        self.sent_batches.append((partition, batch.records))
        self.batches += 1
        delivery = asyncio.get_running_loop().create_future()
        delivery.set_result(None)
        self.deliveries.append(delivery)
        return delivery
