"""Worker state: windows changelogged to their customer's partition, then expired."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace

from schemas.money import to_pico
from streams.aggregation import WindowAggregate, WindowKey
from streams.window_state import TableState


class FakeTable:
    """The parts of a Faust table the state touches, with a producer that records batches."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.changelog: list[tuple[int, bytes, bytes | None]] = []
        self.app = SimpleNamespace(producer=SimpleNamespace(_ensure_producer=lambda: self))
        self.changelog_topic = SimpleNamespace(get_topic_name=lambda: "cost-windows-changelog")

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> None:
        self.changelog.extend((partition, key, value) for key, value in batch.records)


class FakeBatch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes | None]] = []

    def append(self, *, key: bytes, value: bytes | None, timestamp: None) -> bool:
        self.records.append((key, value))
        return True


def test_windows_go_to_their_partition_and_expire_by_that_partitions_watermark() -> None:
    table = FakeTable()
    state = TableState(table, retention={60: 600})
    minute = WindowKey("acme", "bot", "llm", 60, 1_000_020)
    other = WindowKey("globex", "bot", "llm", 60, 1_000_020)
    state.put(minute, WindowAggregate(cost=to_pico(Decimal("1.5")), events=1, last_offset=7, partition=3))
    state.put(other, WindowAggregate(events=1, last_offset=9, partition=5))
    asyncio.run(state.flush())
    assert [c[0] for c in table.changelog] == [3, 5]
    assert state.get(minute) == WindowAggregate(
        cost=to_pico(Decimal("1.5")), events=1, last_offset=7, partition=3
    )

    state.set_watermark(3, minute.end + 601)  # past retention on partition 3 only
    state.set_watermark(5, minute.end + 599)
    assert asyncio.run(state.expire(assigned={3, 5})) == 1
    assert state.get(minute) is None and state.get(other) is not None
    assert (3, minute.encode(), None) in table.changelog  # a tombstone
    assert state.watermark(3) == minute.end + 601


def test_a_restarted_worker_rebuilds_its_expiry_index_from_the_table() -> None:
    table = FakeTable()
    TableState(table, retention={60: 0}).put(
        WindowKey("acme", "*", "tool", 60, 0), WindowAggregate(events=2, last_offset=1, partition=0)
    )
    restored = TableState(table, retention={60: 0})
    restored.set_watermark(0, 61)
    assert asyncio.run(restored.expire(assigned={1})) == 0  # not ours any more: left alone
    assert asyncio.run(restored.expire(assigned={0})) == 1


def test_a_batch_of_windows_is_stored_changelogged_and_indexed_for_expiry_in_one_call() -> None:
    table = FakeTable()
    state = TableState(table, retention={60: 600, 3600: 0})
    minute = WindowKey("acme", "bot", "llm", 60, 1_000_020)
    hour = WindowKey("acme", "*", "llm", 3600, 997_200)
    windows = {
        minute: WindowAggregate(events=2, last_offset=7, partition=3),
        hour: WindowAggregate(events=5, last_offset=8, partition=3),
    }
    state.put_many(windows, [minute.encode(), hour.encode()])
    asyncio.run(state.flush())
    assert state.get_many([minute.encode(), hour.encode(), b"nobody"]) == [*windows.values(), None]
    assert table.changelog == [(3, k.encode(), a.encode()) for k, a in windows.items()]

    state.set_watermark(3, minute.end + 601)  # the minute is past its retention, the hour still open
    assert asyncio.run(state.expire(assigned={3})) == 1
    assert state.get(minute) is None and state.get(hour) is not None


def test_windows_put_without_their_encoded_keys_are_encoded_here() -> None:
    table = FakeTable()
    key = WindowKey("acme", "bot", "tool", 60, 0)
    TableState(table, retention={}).put_many({key: WindowAggregate(events=1, last_offset=1, partition=0)})
    assert list(table.data) == [key.encode()]
