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
    for key, value in records:
        if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it, start another
            sent.append(await producer.send_batch(batch, topic, partition=partition))
            batch = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)
    sent.append(await producer.send_batch(batch, topic, partition=partition))
    return sent
