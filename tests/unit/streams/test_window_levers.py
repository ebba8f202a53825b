"""Session 14's shortcuts in the window path give what the long ways give: token sums from pricing's
array, window order decided per partition, the expiry index kept and rebuilt, changelog records
written into aiokafka's own record builder."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import numpy as np
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch

from bench.workload import events, pack
from schemas.prices import load_price_dir
from streams import window_batch
from streams.aggregation import WindowAggregate, WindowKey
from streams.column_groups import codes
from streams.intake import decode_and_price
from streams.kafka_batches import send_batches
from streams.pricing import PriceCatalog
from streams.processor import RawMessage
from streams.window_batch import EventColumns, TokenColumns, fold_plan, plan_windows
from streams.window_changes import WindowChanges
from streams.window_state import TableState, _rows_by
from tests.factories import PRICES
from tests.unit.streams.test_window_state import FakeTable

SIZES = (60, 3600)
RETENTION = {60: 600, 3600: 7200}


def batch_of(count: int, partitions: int = 4, span_s: float = 30.0, first: int = 0) -> list[RawMessage]:
    """The fleet's messages, each customer's on one partition, offsets increasing a partition."""
    messages = pack(events(count, customers=30, agents=5, span_s=span_s, seed=first + 1), 10)
    offsets = [first] * partitions
    raw = []
    for key, value in messages:
        partition = sum(key) % partitions
        raw.append(RawMessage("usage", partition, offsets[partition], key, value))
        offsets[partition] += 1
    return raw


def columns_of(messages: list[RawMessage]) -> EventColumns:
    counted, dead = decode_and_price(messages, PriceCatalog(load_price_dir(PRICES)), None, datetime.now(UTC))
    assert not dead
    return EventColumns.of(counted)


def test_token_sums_from_pricings_array_are_those_of_the_objects() -> None:
    columns = columns_of(batch_of(2000))
    assert type(columns.tokens) is TokenColumns
    fields = ("input", "cached_input", "cache_write", "output", "reasoning")
    from_objects = [[getattr(usage, name) for name in fields] for usage in columns.tokens]
    assert columns.tokens.array.tolist() == from_objects
    as_objects = EventColumns.of(list(columns.counted))
    assert type(as_objects.tokens) is not TokenColumns
    assert np.array_equal(window_batch._increments(columns)[0], window_batch._increments(as_objects)[0])
    keep = np.arange(len(columns)) % 3 != 0
    chosen = columns.select(keep)
    assert type(chosen.tokens) is TokenColumns
    assert chosen.tokens.array.tolist() == [r for r, k in zip(from_objects, keep, strict=True) if k]
    plan, objects_plan = plan_windows(columns, SIZES), plan_windows(as_objects, SIZES)
    assert np.array_equal(plan.sums, objects_plan.sums) and plan.raw_keys == objects_plan.raw_keys


def test_window_order_decided_per_partition_agrees_with_the_sort_a_window_kind() -> None:
    columns = columns_of(batch_of(3000))
    plan = plan_windows(columns, SIZES)
    assert not bool(np.all(np.diff(columns.positions) > 0))  # partitions interleave: not the first shortcut
    customers = codes(columns.customers)[0]
    assert window_batch._by_partition(columns.positions, columns.partitions, customers)
    assert window_batch._increasing(columns.positions, plan.event_windows)  # the long way agrees
    assert plan.exact
    # A customer on two partitions, or a partition's positions going back: the long way decides.
    moved = columns.partitions.copy()
    moved[0] = (moved[0] + 1) % 4
    assert not window_batch._by_partition(columns.positions, moved, customers)
    back = columns.positions.copy()
    cell = plan.event_windows[0]  # two events of one window, their positions swapped
    first, second = np.flatnonzero(cell == cell[0])[:2]
    back[first], back[second] = back[second], back[first]
    assert not window_batch._by_partition(back, columns.partitions, customers)
    assert not window_batch._increasing(back, plan.event_windows, columns.partitions, customers)
    assert not window_batch._increasing(back, plan.event_windows)


def _run(state: TableState, table: FakeTable, messages: list[RawMessage]) -> None:
    plan = plan_windows(columns_of(messages), SIZES)
    stored = state.stored(plan.raw_keys)
    result = fold_plan(plan, stored)
    assert result is not None
    state.put_many(result.changed, result.raw_keys)
    asyncio.run(state.flush())


def _reindexed(data: dict[bytes, bytes]) -> dict[int, dict[bytes, int]]:
    """The index as the loop a window before session 14 built it."""
    due: dict[int, dict[bytes, int]] = {}
    for raw_key, raw_value in data.items():
        if not raw_key.startswith(b"~"):
            size, start = map(int, raw_key.rsplit(b"\x1f", 2)[1:])
            due.setdefault(start + size + RETENTION.get(size, 0), {})[raw_key] = int(
                raw_value.rsplit(b",", 1)[1]
            )
    return due


class _Store(dict[bytes, bytes]):
    """A memory store's dict with its map of each key's partition (Faust's ``_key_partition``)."""

    def __init__(self) -> None:
        super().__init__()
        self._key_partition: dict[bytes, int] = {}


def test_the_index_kept_by_puts_is_the_index_rebuilt_from_the_store() -> None:
    table = FakeTable()
    table.data = store = _Store()
    state = TableState(table, RETENTION)
    state.forget_index()  # an empty store: the empty index is whole
    assert state._indexed
    for first in (0, 1000, 2000):  # later batches fold onto the windows the earlier ones stored
        _run(state, table, batch_of(1500, span_s=300.0, first=first))
    kept = {at: dict(bucket) for at, bucket in state._due.items()}
    assert kept == _reindexed(table.data)
    assert store._key_partition == {k: p for bucket in kept.values() for k, p in bucket.items()}
    state._reindex()
    assert state._due == kept
    assert all(list(state._due[at]) == list(kept[at]) for at in kept)  # each bucket in the store's order


def test_windows_held_under_another_partition_or_read_before_an_expiry_are_indexed_again() -> None:
    table = FakeTable()
    state = TableState(table, RETENTION)
    state.forget_index()
    key = WindowKey("acme", "bot", "llm", 60, 1_000_020)
    raw, due = key.encode(), 1_000_080 + 600

    def put(last_offset: int, partition: int, indexed: bool | None) -> None:
        held = None if indexed is None else np.array([indexed])
        state.put_many(WindowChanges([key], [raw], _columns(last_offset, partition), indexed=held))

    put(1, 3, None)  # not known: indexed
    assert state._due == {due: {raw: 3}}
    state.stored([raw])
    state._due.clear()  # what the next puts index shows
    put(5, 4, False)  # the store held it under partition 3
    assert state._due == {due: {raw: 4}}
    state.stored([raw])
    state._due.clear()
    put(6, 4, True)  # held, under the same partition: the index has it
    assert state._due == {}
    state.stored([raw])
    asyncio.run(state.expire(assigned=set()))  # an expiry between the read and the put
    put(7, 4, True)
    assert state._due == {due: {raw: 4}}


def _columns(last_offset: int, partition: int) -> list[list[Any]]:
    window = WindowAggregate(events=2, last_offset=last_offset, partition=partition)
    return [[value] for value in window.values()]


def test_a_store_holding_windows_when_assigned_is_indexed_again() -> None:
    table = FakeTable()
    table.data[b"~watermark\x1f3"] = b"5"
    state = TableState(table, RETENTION)
    state.forget_index()
    assert state._indexed  # marks only
    table.data[WindowKey("acme", "bot", "llm", 60, 1_000_020).encode()] = WindowAggregate(
        partition=3
    ).encode()
    state.forget_index()
    assert not state._indexed


def test_rows_by_value_in_their_order_with_one_sort() -> None:
    values = np.array([5, 3, 5, 9, 3, 5], np.int64)
    assert list(_rows_by(values)) == [(3, [1, 4]), (5, [0, 2, 5]), (9, [3])]
    assert list(_rows_by(np.array([7, 7], np.int64))) == [(7, None)]
    assert list(_rows_by(np.zeros(0, np.int64))) == []


class _Producer:
    """aiokafka's own batches, each built as the broker would get it."""

    def __init__(self, wrapped: bool) -> None:
        self.wrapped = wrapped
        self.built: list[bytes] = []

    def create_batch(self) -> Any:
        batch = BatchBuilder(1024, 0)
        return _Appending(batch) if self.wrapped else batch

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        batch = batch.batch if type(batch) is _Appending else batch
        self.built.append(bytes(batch._build()))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class _Appending:
    """A batch send_batches can only append to, one record at a time (BatchBuilder.append)."""

    def __init__(self, batch: BatchBuilder) -> None:
        self.batch = batch

    def append(self, *, key: bytes, value: bytes | None, timestamp: None) -> Any:
        return self.batch.append(key=key, value=value, timestamp=timestamp)


def _records(built: list[bytes]) -> list[list[tuple[int, bytes | None, bytes | None]]]:
    found = []
    for raw in built:
        batch = DefaultRecordBatch(raw)
        assert batch.validate_crc()
        found.append([(r.offset, r.key, r.value) for r in batch])
    return found


def test_records_into_the_record_builder_make_the_batches_append_makes() -> None:
    records = [
        (f"cust-{i}\x1fbot".encode(), None if i % 7 == 0 else b"p%d" % i * (i % 5 + 1)) for i in range(300)
    ]
    straight, appended = _Producer(wrapped=False), _Producer(wrapped=True)
    sent = asyncio.run(send_batches(straight, "changelog", 3, records))
    asyncio.run(send_batches(appended, "changelog", 3, records))
    assert len(sent) == len(straight.built) > 1
    assert _records(straight.built) == _records(appended.built)
    assert [r for batch in _records(straight.built) for r in batch][5][1:] == records[5]
    assert sum(map(len, _records(straight.built))) == len(records)


def test_keys_as_codes_name_and_encode_the_windows_their_objects_do() -> None:
    plan = plan_windows(columns_of(batch_of(3000, span_s=7200.0)), SIZES)
    keys = plan.keys
    assert len(set(keys)) == len(keys) == len(plan.raw_keys)
    assert plan.raw_keys == [key.encode() for key in keys]
    assert [plan.key_columns.key(i) for i in (0, len(keys) // 2, len(keys) - 1)] == [
        keys[0],
        keys[len(keys) // 2],
        keys[-1],
    ]
    assert np.array_equal(plan.ends, [key.start + key.size for key in keys])
    result = fold_plan(plan, [None] * len(keys))
    assert result is not None
    changes = result.changed
    assert type(changes) is WindowChanges and changes._keys is None  # no key object made so far
    rows = changes.rows()[10:50]
    assert rows.key_texts() == [list(field) for field in zip(*keys[10:50], strict=True)]
    assert changes.window_keys == keys and result.raw_keys == plan.raw_keys
