"""The windows store's restore: records as the batch reads them, and each key's last record kept."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from aiokafka.consumer.fetcher import PartitionRecords
from aiokafka.structs import ConsumerRecord
from faust.types import TP

from streams.changelog_store import RestoringStore, raw_records, read_raw_records

TOPIC = "costline-windows-changelog"


def fetched(key_deserializer: Any) -> PartitionRecords:
    return PartitionRecords(TopicPartition(TOPIC, 0), None, [], 0, key_deserializer, None, False, 0)


def test_the_restore_consumer_gets_records_as_read_and_every_other_consumer_gets_consumer_records() -> None:
    assert read_raw_records() and read_raw_records()  # installed once, then found installed
    record = SimpleNamespace(
        key=b"k", value=b"v", offset=7, timestamp=1, timestamp_type=0, checksum=None, headers=[]
    )
    tp = TopicPartition(TOPIC, 0)
    assert fetched(raw_records)._consumer_record(tp, record) is record
    made = fetched(None)._consumer_record(tp, record)
    assert isinstance(made, ConsumerRecord)
    assert (made.key, made.value, made.offset, made.serialized_key_size) == (b"k", b"v", 7, 1)


class Changelog:
    """A consumer of one changelog partition, fetched a batch at a time."""

    def __init__(self, batches: list[list[tuple[bytes, bytes | None]]]) -> None:
        self.batches = batches
        self.read = 0

    def assign(self, tps: list[TopicPartition]) -> None: ...

    async def seek_to_beginning(self, *tps: TopicPartition) -> None: ...

    async def getmany(self, *tps: TopicPartition, timeout_ms: int, max_records: int) -> dict[Any, Any]:
        batch = self.batches[self.read]
        self.read += 1
        return {tps[0]: [SimpleNamespace(key=k, value=v) for k, v in batch]}

    async def position(self, tp: TopicPartition) -> int:
        return sum(map(len, self.batches[: self.read]))


def test_a_restored_key_holds_its_last_record_whether_a_value_or_a_tombstone() -> None:
    batches: list[list[tuple[bytes, bytes | None]]] = [
        [(b"w1", b"a"), (b"w2", b"b"), (b"w1", None), (b"w3", b"c")],
        [(b"w2", None), (b"w1", b"d"), (b"w3", None), (b"w3", b"e"), (b"w4", b"f"), (b"w4", None)],
    ]
    store = SimpleNamespace(data={b"stale": b"x"}, _key_partition={b"stale": 0}, _held={})
    end = {TopicPartition(TOPIC, 0): 10}
    read = asyncio.run(RestoringStore._read(store, Changelog(batches), [TP(TOPIC, 0)], end))
    assert read == 10
    assert store.data == {b"w1": b"d", b"w3": b"e"}  # what was left of an earlier ownership is gone
    assert store._key_partition == {b"w1": 0, b"w3": 0}
    assert store._held == {TP(TOPIC, 0): 9}
