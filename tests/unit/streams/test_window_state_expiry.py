"""Expiry of worker state: whole buckets at once, and the index rebuilt from stored keys and values."""

from __future__ import annotations

import asyncio

from streams.aggregation import WindowAggregate, WindowKey
from streams.window_state import ChangelogWriter, TableState
from tests.unit.streams.test_window_state import FakeTable


def windows(customers: list[str], partition_of: dict[str, int]) -> dict[WindowKey, WindowAggregate]:
    keys = [WindowKey(c, agent, "llm", 60, 1_000_020) for c in customers for agent in ("bot", "*")]
    return {k: WindowAggregate(events=1, last_offset=1, partition=partition_of[k.customer_id]) for k in keys}


def test_windows_past_retention_go_with_a_tombstone_each_in_the_order_they_were_put() -> None:
    table = FakeTable()
    state = TableState(table, retention={60: 600})
    put = windows(["acme", "globex", "initech"], {"acme": 3, "globex": 5, "initech": 3})
    state.put_many(put)
    asyncio.run(state.flush())
    table.changelog.clear()
    for partition in (3, 5):
        state.set_watermark(partition, 1_000_080 + 601)
    assert asyncio.run(state.expire(assigned={3, 5})) == len(put)
    tombstones = [(p, k, v) for p, k, v in table.changelog if not k.startswith(b"~")]
    by_partition = {p: [k for q, k, _ in tombstones if q == p] for p in (3, 5)}
    assert by_partition == {p: [k.encode() for k, a in put.items() if a.partition == p] for p in (3, 5)}
    assert all(v is None for _, _, v in tombstones)
    assert not [k for k in table.data if not k.startswith(b"~")]


def test_a_bucket_partly_of_other_partitions_or_not_yet_due_keeps_those() -> None:
    table = FakeTable()
    state = TableState(table, retention={60: 600})
    state.put_many(windows(["acme", "globex", "initech"], {"acme": 3, "globex": 5, "initech": 7}))
    state.set_watermark(3, 1_000_080 + 601)  # past retention
    state.set_watermark(5, 1_000_080 + 599)  # not yet
    assert asyncio.run(state.expire(assigned={3, 5})) == 2  # partition 7 is not this worker's
    left = {WindowKey.decode(k).customer_id for k in table.data if not k.startswith(b"~")}
    assert left == {"globex", "initech"}
    state.set_watermark(5, 1_000_080 + 601)
    assert asyncio.run(state.expire(assigned={3, 5, 7})) == 2  # 7's watermark is 0: kept
    assert asyncio.run(state.expire(assigned={5})) == 0


def test_a_window_gone_from_the_store_meanwhile_gets_no_tombstone() -> None:
    table = FakeTable()
    state = TableState(table, retention={60: 0})
    state.put_many(windows(["acme"], {"acme": 0}))
    del table.data[WindowKey("acme", "bot", "llm", 60, 1_000_020).encode()]
    state.set_watermark(0, 1_000_081)
    asyncio.run(state.flush())
    table.changelog.clear()
    assert asyncio.run(state.expire(assigned={0})) == 1
    assert [k for _, k, v in table.changelog if v is None] == [
        WindowKey("acme", "*", "llm", 60, 1_000_020).encode()
    ]


def test_the_index_is_rebuilt_from_keys_of_any_text_and_values_of_either_form() -> None:
    table = FakeTable()
    hour = WindowKey("naïve-ü", "bot", "tool", 3600, 997_200)
    minute = WindowKey("acme", "*", "llm", 60, 1_000_020)
    table.data[hour.encode()] = WindowAggregate(events=1, last_offset=4, partition=2).encode()
    table.data[minute.encode()] = b"1.5,1,3,0,0,0,0,0,0,0,9,6"  # the first form: money as USD text
    restored = TableState(table, retention={60: 600, 3600: 0})
    restored.set_watermark(2, hour.end + 1)
    restored.set_watermark(6, minute.end + 599)
    assert asyncio.run(restored.expire(assigned={2, 6})) == 1
    assert restored.get(hour) is None and restored.get(minute) is not None
    restored.set_watermark(6, minute.end + 601)
    assert asyncio.run(restored.expire(assigned={2, 6})) == 1


def test_a_partitions_pending_records_are_one_list_to_append_to() -> None:
    writer = ChangelogWriter(table=None)
    writer.add(1, b"a", b"1")
    writer.records_of(1).append((b"b", None))
    writer.records_of(2).append((b"c", b"3"))
    assert writer.records_of(1) == [(b"a", b"1"), (b"b", None)]
    assert writer.records_of(2) == [(b"c", b"3")]
