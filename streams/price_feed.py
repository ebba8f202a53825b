"""Keep a worker's price catalog in step with the compacted prices topic.

Every worker reads the whole topic (no consumer group), so each one knows
every version; a version published while workers run reaches them within a
poll, without a restart. Processing waits until the topic has been read to
its end once, so no event is priced against a half-loaded catalog.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from costline.config import Settings
from costline.kafka import caught_up, topic_partitions
from costline.kafka_auth import client_security
from schemas.prices import PriceVersion
from streams.pricing import PriceCatalog

log = logging.getLogger(__name__)


class PriceFeed:
    def __init__(self, settings: Settings, catalog: PriceCatalog) -> None:
        self.settings = settings
        self.catalog = catalog
        self.ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **client_security(self.settings),
        )
        self._consumer = consumer
        await consumer.start()
        try:
            partitions = await self._partitions()
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=1000)
                for records in batches.values():
                    for record in records:
                        self._apply(record.value)
                if not self.ready.is_set() and await caught_up(consumer, end):
                    log.info("price catalog loaded: %d versions", len(self.catalog))
                    self.ready.set()
        finally:
            await consumer.stop()

    async def _partitions(self) -> list[TopicPartition]:
        topic = self.settings.prices_topic
        found = await topic_partitions(self.settings, topic)
        if not found:
            raise RuntimeError(f"prices topic {topic!r} not found; run `costline prices load`")
        return [TopicPartition(topic, p) for p in found]

    def _apply(self, raw: bytes | None) -> None:
        if raw is None:
            return
        try:
            version = PriceVersion.model_validate_json(raw)
        except ValidationError as exc:
            log.error("ignoring an invalid price version on %s: %s", self.settings.prices_topic, exc)
            return
        self.catalog.add(version)
        log.info("price version %s (from %s) in use", version.version, version.effective_from)
