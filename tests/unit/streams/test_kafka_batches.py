"""Records sent a partition at a time: each key on the partition Kafka's default partitioner gives it,
every record in order, in as many batches as they fill."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import MessageAccumulator
from aiokafka.record.default_records import DefaultRecordBatch
from aiokafka.structs import TopicPartition

from streams.kafka_batches import KeyPartitions, UnbatchableRecordError, send_batches, send_partitions
from tests.fakes import FakeProducer


def test_a_key_goes_where_the_producer_itself_would_send_it_and_moves_when_the_topic_grows() -> None:
    keys = [f"budget-{i}\x1facme".encode() for i in range(500)]
    partitions = KeyPartitions(kept_max=100)
    for count in (8, 8, 12):  # kept, then hashed again when partitions are added
        chosen = [partitions.of(key, set(range(count))) for key in keys]
        assert chosen == [DefaultPartitioner()(key, list(range(count)), []) for key in keys]
    assert len(set(chosen)) == 12


async def test_records_fill_batches_in_order_and_each_batch_is_acknowledged() -> None:
    producer = FakeProducer(partitions={3}, batch_room=2)
    records: list[tuple[bytes, bytes | None]] = [
        (b"a", b"1"),
        (b"b", None),
        (b"c", b"3"),
        (b"a", b"4"),
        (b"d", b"5"),
    ]

    deliveries = await send_batches(producer, "live", 3, records)

    assert producer.sent == [("live", 3, key, value) for key, value in records]
    assert producer.batches == len(deliveries) == 3 and all(d.done() for d in deliveries)


async def test_partitions_go_a_batch_of_each_at_a_time_each_in_order() -> None:
    producer = FakeProducer(partitions={0, 1, 2}, batch_room=2)
    by_partition: dict[int, list[tuple[bytes, bytes | None]]] = {
        0: [(b"a%d" % i, b"%d" % i) for i in range(5)],
        1: [(b"b", b"1")],
        2: [(b"c%d" % i, None) for i in range(4)],
        3: [],  # nothing to send: no batch
    }

    deliveries = await send_partitions(producer, "changelog", by_partition)

    # Round by round: every partition's next batch, the record a full batch refused first in the next.
    assert producer.sent_batches == [
        (0, by_partition[0][0:2]),
        (1, by_partition[1]),
        (2, by_partition[2][0:2]),
        (0, by_partition[0][2:4]),
        (2, by_partition[2][2:4]),
        (0, by_partition[0][4:5]),
    ]
    assert len(deliveries) == 6 and all(d.done() for d in deliveries)


async def test_a_record_no_batch_takes_fails_the_send_instead_of_being_skipped() -> None:
    producer = FakeProducer(partitions={0}, batch_room=0)  # even an empty batch refuses

    with pytest.raises(UnbatchableRecordError, match=r"a record of 5 bytes \(key b'big'\) fits in no batch"):
        await send_partitions(producer, "changelog", {0: [(b"big", b"va")]})

    assert producer.sent == []


def test_a_topic_of_one_partition_takes_every_key_unhashed() -> None:
    partitions = KeyPartitions()
    assert {partitions.of(f"alert-{i}".encode(), {4}) for i in range(100)} == {4}
    assert not partitions._of  # nothing hashed, nothing kept


def _records(built: Any) -> list[tuple[bytes | None, bytes | None]]:
    return [(r.key, r.value) for r in DefaultRecordBatch(bytes(built))]


class _OneBroker:
    """The cluster as aiokafka's accumulator asks it: every partition led by broker 1."""

    def leader_for_partition(self, tp: TopicPartition) -> int:
        return 1


class _Sender:
    """aiokafka's producer over its own accumulator, with its sender's rule (one produce request in
    flight a broker, each the batches ``drain_by_nodes`` gives: one a partition), the broker
    answering at once. What each request carried is kept."""

    def __init__(self, batch_size: int) -> None:
        self.accumulator = MessageAccumulator(_OneBroker(), batch_size, 0, 30, linger_ms=0)  # timing aside
        self.requests: list[dict[int, list[tuple[bytes | None, bytes | None]]]] = []

    def create_batch(self) -> Any:
        return self.accumulator.create_builder()

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        return await self.accumulator.add_batch(batch, TopicPartition(topic, partition), timeout=5)

    async def run(self) -> None:
        while True:
            await self.accumulator.waiter()
            drained, _ = self.accumulator.drain_by_nodes(ignore_nodes=set())
            for batches in drained.values():
                self.requests.append(
                    {tp.partition: _records(b.get_data_buffer()) for tp, b in batches.items()}
                )
                await asyncio.sleep(0)  # the request's round trip
                for batch in batches.values():
                    batch.done(base_offset=0)


async def test_aiokafkas_sender_carries_a_batch_of_every_partition_in_each_request() -> None:
    records = {p: [(b"%d-%d" % (p, i), b"v" * 40) for i in range(60)] for p in range(8)}
    sent = {}
    for send in ("partition by partition", "in rounds"):
        producer = _Sender(batch_size=1024)  # ~16 records a batch: 4 a partition
        sender = asyncio.create_task(producer.run())
        if send == "in rounds":
            deliveries = await send_partitions(producer, "changelog", records)
        else:
            deliveries = []
            for partition, some in records.items():
                deliveries += await send_batches(producer, "changelog", partition, some)
        await asyncio.gather(*deliveries)
        sender.cancel()
        sent[send] = producer.requests
        got: dict[int, list[tuple[bytes | None, bytes | None]]] = {}
        for request in producer.requests:
            for partition, batch in request.items():
                got.setdefault(partition, []).extend(batch)
        assert got == records  # every record, in order within its partition
    # Four batches a partition: four requests of eight batches, where partition by partition each
    # request took one batch (two where a partition's last went with the next partition's first).
    assert len(sent["in rounds"]) == 4 and all(len(request) == 8 for request in sent["in rounds"])
    assert len(sent["partition by partition"]) == 25
