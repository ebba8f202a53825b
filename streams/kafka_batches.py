"""Records handed to the aiokafka producer in its own batches, a batch of every partition at a time.

A worker writes thousands of small records a batch (window changelogs, live
spend for the gate). ``producer.send`` costs per record: the key hashed in
pure-Python murmur2, metadata checked, the record placed. Here each key's
partition is hashed once and kept, and records go out as whole batches
(``create_batch`` / ``send_batch``, aiokafka's public API for this), the
partitions' batches in rounds so that one produce request carries many
(:func:`send_partitions`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping
from itertools import chain
from typing import Any

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatchBuilder

_NO_HEADERS: list[tuple[str, bytes]] = []  # never changed


class KeyPartitions:
    """The partition the producer's default partitioner gives each key, hashed once per key.

    Kept while the topic's partitions stay the same: a topic that grows
    partitions moves keys, as it does for the producer itself.
    """

    def __init__(self, kept_max: int = 200_000) -> None:
        self._of: dict[bytes, int] = {}
        self._partitions: list[int] = []
        self._kept_max = kept_max

    def of(self, key: bytes, partitions: Collection[int]) -> int:
        if len(partitions) == 1:  # the partitioner's hash modulo 1: no need to hash
            return next(iter(partitions))
        if len(partitions) != len(self._partitions):
            self._of.clear()
            self._partitions = sorted(partitions)
        partition = self._of.get(key)
        if partition is None:
            if len(self._of) >= self._kept_max:
                self._of.clear()  # a cache: hashing again gives the same
            partition = self._of[key] = DefaultPartitioner()(key, self._partitions, self._partitions)
        return partition


Record = tuple[bytes, bytes | None]


class UnbatchableRecordError(ValueError):
    """A record even an empty batch refuses. aiokafka's own batches take any first record, so this
    would be another batch type's limit: failing the write keeps the record, where skipping it
    would lose it without a word."""

    def __init__(self, record: Record) -> None:
        key, value = record
        size = len(key) + len(value or b"")
        super().__init__(f"a record of {size} bytes (key {key[:60]!r}) fits in no batch of the producer")


async def send_batches(
    producer: Any, topic: str, partition: int, records: Iterable[Record]
) -> list[asyncio.Future[Any]]:
    """Hand ``records`` to ``producer`` for one partition; the futures say when each batch is acknowledged."""
    return await send_partitions(producer, topic, {partition: records})


async def send_partitions(
    producer: Any, topic: str, by_partition: Mapping[int, Iterable[Record]]
) -> list[asyncio.Future[Any]]:
    """Hand each partition's records to ``producer``, in order within a partition, a round at a time:
    a round is the next full batch of every partition with records left. The futures say when each
    batch is acknowledged.

    aiokafka's sender puts one batch a partition in a produce request, keeps one request in flight
    a broker, and ``send_batch`` waits while the partition's previous batch is still queued. Partition
    after partition, every batch went in a request of its own, one round trip after another (6,312
    requests for 500k events); round after round, a request carries a batch of every partition.
    """
    sent = []
    left = {partition: iter(records) for partition, records in by_partition.items()}
    refused: dict[int, Record] = {}  # the record a full batch refused: the partition's next batch's first
    while left:
        for partition in list(left):
            first = refused.pop(partition, None)
            records = left[partition] if first is None else chain((first,), left[partition])
            batch = producer.create_batch()
            count, rest = _filled(batch, records)
            if rest is None:
                del left[partition]
            else:
                refused[partition] = rest
            if count:
                sent.append(await producer.send_batch(batch, topic, partition=partition))
    return sent


def _filled(batch: Any, records: Iterable[Record]) -> tuple[int, Record | None]:
    """Append ``records`` to ``batch`` until it is full: how many went in, and the record it refused
    (None: the records ran out). A full batch of aiokafka's own is closed: nothing is added to it
    after, and the sender need not wait out the linger for it."""
    count = 0
    if _plain(batch):
        # Straight into the record builder under it (BatchBuilder.append is a Python call a record
        # around that one): a record's offset in its batch, no timestamp (the builder's clock), no headers.
        builder, headers = batch._builder, _NO_HEADERS
        for key, value in records:
            if builder.append(count, None, key, value, headers) is None:
                if not count:
                    raise UnbatchableRecordError((key, value))
                batch._relative_offset = count
                batch.close()
                return count, (key, value)
            count += 1
        batch._relative_offset = count
        return count, None
    for key, value in records:
        if batch.append(key=key, value=value, timestamp=None) is None:
            if not count:
                raise UnbatchableRecordError((key, value))
            return count, (key, value)
        count += 1
    return count, None


def _plain(batch: Any) -> bool:
    """Is ``batch`` aiokafka's own, new and without serializers? Then its records go straight to the
    record builder under it (its ``append`` is a Python call a record around that one)."""
    return (
        type(batch) is BatchBuilder
        and type(getattr(batch, "_builder", None)) is DefaultRecordBatchBuilder
        and getattr(batch, "_relative_offset", None) == 0
        and getattr(batch, "_key_serializer", True) is None
        and getattr(batch, "_value_serializer", True) is None
        and not batch.closed()
    )
