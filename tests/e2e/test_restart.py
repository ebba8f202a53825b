"""A worker killed with SIGKILL mid-stream resumes without loss or double counting; a gap left by
retention is reported, not waited for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from costline.config import Settings
from costline.dev.harness import Pipeline
from costline.dev.sample_day import sample_day
from schemas.prices import load_price_dir
from streams.offset_commits import seed_committed_offsets
from streams.pricing import PriceCatalog


@pytest.fixture()
def cold(services: Settings) -> Iterator[Pipeline]:
    p = Pipeline.create(services, "restart")
    p.load_prices()
    yield p
    p.close()


def test_kill_nine_mid_stream_then_restart(cold: Pipeline) -> None:
    events = sample_day(tasks_per_agent=600, seed=11)
    expected = PriceCatalog(load_price_dir(cold.settings.prices_dir)).totals(events)

    # One event per message, as a plain Kafka producer sends them: slow
    # enough to kill the worker with batches committed, in flight and unread.
    cold.publish(events, max_events=1)
    cold.publish(events[::50], max_events=1)  # republished ids mixed into the stream
    cold.start_worker()
    deadline = time.monotonic() + 120
    # Kill once a third is in: batches are then committed, in flight and unread.
    while cold.scalar("SELECT count() FROM ledger") < len(events) // 3:
        assert time.monotonic() < deadline, cold.workers_report()
        time.sleep(0.05)
    cold.kill_worker()  # SIGKILL: no flush, no commit, no goodbye
    counted_before_kill = cold.scalar("SELECT count() FROM ledger FINAL")
    assert 0 < counted_before_kill < len(events)

    cold.start_worker()
    cold.wait_until_counted(len(events), timeout=180)
    assert cold.customer_totals() == expected
    assert cold.windows_match_ledger()


def test_messages_deleted_by_retention_before_counting_are_reported_and_the_rest_counted(
    services: Settings,
) -> None:
    p = Pipeline.create(services, "retention", partitions=1)
    try:
        p.load_prices()
        asyncio.run(seed_committed_offsets(p.settings))  # the group starts at offset 0
        events = sample_day(tasks_per_agent=5, seed=3)[:100]
        p.publish(events, max_events=1)
        asyncio.run(delete_records_before(p.settings.kafka_bootstrap, p.settings.usage_topic, 40))

        p.start_worker()
        # Waiting at offset 0 for messages that no longer exist would stall the partition for good.
        p.wait_until_counted(60)
        assert "were deleted by retention before they were counted" in p.workers_report()
    finally:
        p.close()


async def delete_records_before(bootstrap: str, topic: str, offset: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(offset)})
    finally:
        await admin.close()
