"""Worker state: windows changelogged to their customer's partition, then expired."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from streams.aggregation import WindowAggregate, WindowKey
from streams.window_state import TableState


class FakeTable:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.changelog: list[tuple[int, bytes, bytes | None]] = []

    def send_changelog(self, partition: int, key: bytes, value: bytes | None, **_: Any) -> None:
        self.changelog.append((partition, key, value))


def test_windows_go_to_their_partition_and_expire_by_that_partitions_watermark() -> None:
    table = FakeTable()
    state = TableState(table, retention={60: 600})
    minute = WindowKey("acme", "bot", "llm", 60, 1_000_020)
    other = WindowKey("globex", "bot", "llm", 60, 1_000_020)
    state.put(minute, WindowAggregate(cost=Decimal("1.5"), events=1, last_offset=7, partition=3))
    state.put(other, WindowAggregate(events=1, last_offset=9, partition=5))
    assert [c[0] for c in table.changelog] == [3, 5]
    assert state.get(minute) == WindowAggregate(cost=Decimal("1.5"), events=1, last_offset=7, partition=3)

    state.set_watermark(3, minute.end + 601)  # past retention on partition 3 only
    state.set_watermark(5, minute.end + 599)
    assert state.expire(assigned={3, 5}) == 1
    assert state.get(minute) is None and state.get(other) is not None
    assert table.changelog[-1] == (3, minute.encode(), None)  # a tombstone
    assert state.watermark(3) == minute.end + 601


def test_a_restarted_worker_rebuilds_its_expiry_index_from_the_table() -> None:
    table = FakeTable()
    TableState(table, retention={60: 0}).put(
        WindowKey("acme", "*", "tool", 60, 0), WindowAggregate(events=2, last_offset=1, partition=0)
    )
    restored = TableState(table, retention={60: 0})
    restored.set_watermark(0, 61)
    assert restored.expire(assigned={1}) == 0  # not ours any more: left alone
    assert restored.expire(assigned={0}) == 1
