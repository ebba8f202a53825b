"""Follow a compacted topic from its start, in every worker: the shape of prices and budgets.

Every worker reads the whole topic (no consumer group), so each one knows
every record; a record published while workers run reaches them within a
poll, without a restart. ``ready`` is set once the topic has been read to
its end, and processing waits for it, so nothing is judged against a
half-loaded state.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod

from aiokafka import AIOKafkaConsumer, TopicPartition

from costline.config import Settings
from costline.kafka import caught_up, topic_partitions
from costline.kafka_auth import client_security

log = logging.getLogger(__name__)


class CompactedFeed(ABC):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ready = asyncio.Event()

    @property
    @abstractmethod
    def topic(self) -> str: ...

    @property
    @abstractmethod
    def missing_topic_hint(self) -> str:
        """What to run when the topic does not exist."""

    @abstractmethod
    def apply(self, key: bytes | None, raw: bytes | None) -> None:
        """Take one record (``raw`` None: a tombstone); an invalid one is logged and skipped."""

    @abstractmethod
    def loaded(self) -> str:
        """What is in force once the topic has been read to its end, for the log."""

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **client_security(self.settings),
        )
        await consumer.start()
        try:
            found = await topic_partitions(self.settings, self.topic)
            if not found:
                raise RuntimeError(f"topic {self.topic!r} not found; {self.missing_topic_hint}")
            partitions = [TopicPartition(self.topic, p) for p in found]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=1000)
                for records in batches.values():
                    for record in records:
                        self.apply(record.key, record.value)
                if not self.ready.is_set() and await caught_up(consumer, end):
                    log.info("%s", self.loaded())
                    self.ready.set()
        finally:
            await consumer.stop()
