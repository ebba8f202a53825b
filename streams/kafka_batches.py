"""Records handed to the aiokafka producer a partition at a time, in its own batches.

A worker writes thousands of small records a batch (window changelogs, live
spend for the gate). ``producer.send`` costs per record: the key hashed in
pure-Python murmur2, metadata checked, the record placed. Here each key's
partition is hashed once and kept, and records go out as whole batches
(``create_batch`` / ``send_batch``, aiokafka's public API for this).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable
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
        if len(partitions) != len(self._partitions):
            self._of.clear()
            self._partitions = sorted(partitions)
        partition = self._of.get(key)
        if partition is None:
            if len(self._of) >= self._kept_max:
                self._of.clear()  # a cache: hashing again gives the same
            partition = self._of[key] = DefaultPartitioner()(key, self._partitions, self._partitions)
        return partition


async def send_batches(
    producer: Any, topic: str, partition: int, records: Iterable[tuple[bytes, bytes | None]]
) -> list[asyncio.Future[Any]]:
    """Hand ``records`` to ``producer`` for one partition; the futures say when each batch is acknowledged."""
    sent = []
    batch = producer.create_batch()
    if _plain(batch):
        return await _send_built(producer, topic, partition, records, batch)
    for key, value in records:
        if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it, start another
            sent.append(await producer.send_batch(batch, topic, partition=partition))
            batch = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)
    sent.append(await producer.send_batch(batch, topic, partition=partition))
    return sent


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


async def _send_built(
    producer: Any, topic: str, partition: int, records: Iterable[tuple[bytes, bytes | None]], batch: Any
) -> list[asyncio.Future[Any]]:
    """:func:`send_batches` through each batch's record builder, as ``BatchBuilder.append`` does:
    a record's offset in its batch, no timestamp (the builder's clock), no headers; a full batch is
    closed with its count and sent."""
    sent = []
    builder, count, headers = batch._builder, 0, _NO_HEADERS
    for key, value in records:
        if builder.append(count, None, key, value, headers) is None:  # full: send it, start another
            batch._relative_offset = count
            batch.close()
            sent.append(await producer.send_batch(batch, topic, partition=partition))
            batch = producer.create_batch()
            builder, count = batch._builder, 0
            if builder.append(count, None, key, value, headers) is None:
                continue  # refused by an empty batch too, as BatchBuilder.append leaves it
        count += 1
    batch._relative_offset = count
    sent.append(await producer.send_batch(batch, topic, partition=partition))
    return sent
