"""Keep a worker's budgets in step with the compacted budgets topic.

As :mod:`streams.price_feed` does for prices: every worker reads the whole
topic (no consumer group), so a budget loaded, changed or deleted (a
tombstone) while workers run is applied within a poll, without a restart.
Processing waits until the topic has been read to its end once.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from costline.config import Settings
from costline.kafka import caught_up, topic_partitions
from costline.kafka_auth import client_security
from schemas.budgets import Budget
from streams.spend_rules import BudgetBook

log = logging.getLogger(__name__)


class BudgetFeed:
    def __init__(self, settings: Settings, book: BudgetBook) -> None:
        self.settings = settings
        self.book = book
        self.ready = asyncio.Event()

    async def run(self) -> None:
        topic = self.settings.budgets_topic
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **client_security(self.settings),
        )
        await consumer.start()
        try:
            found = await topic_partitions(self.settings, topic)
            if not found:
                raise RuntimeError(f"budgets topic {topic!r} not found; `costline worker` creates it")
            partitions = [TopicPartition(topic, p) for p in found]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=1000)
                for records in batches.values():
                    for record in records:
                        self.apply(record.key, record.value)
                if not self.ready.is_set() and await caught_up(consumer, end):
                    log.info("budgets loaded: %d in force", len(self.book))
                    self.ready.set()
        finally:
            await consumer.stop()

    def apply(self, key: bytes | None, raw: bytes | None) -> None:
        if raw is None:
            if key is not None:
                self.book.remove(key.decode())
                log.info("budget %s deleted", key.decode())
            return
        try:
            budget = Budget.model_validate_json(raw)
        except ValidationError as exc:
            log.error("ignoring an invalid budget on %s: %s", self.settings.budgets_topic, exc)
            return
        self.book.put(budget)
        log.info("budget %s in force: %s %s %s", budget.budget_id, budget.scope_label,
                 budget.period_label, budget.amount)  # fmt: skip
