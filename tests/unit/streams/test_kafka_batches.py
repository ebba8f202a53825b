"""Records sent a partition at a time: each key on the partition Kafka's default partitioner gives it,
every record in order, in as many batches as they fill."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from streams.kafka_batches import KeyPartitions, send_batches
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
