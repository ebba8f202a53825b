"""A restart after history restores the windows from a compacting changelog, read by a plain
consumer, and counts on exactly; a changelog topic made by an older version gets the new config."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Iterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from costline.config import Settings
from costline.dev.harness import Pipeline
from costline.dev.sample_day import sample_day
from costline.kafka import CHANGELOG_CONFIG, changelog_topic, ensure_topics, topic_overrides
from schemas.prices import load_price_dir
from streams.pricing import PriceCatalog


@pytest.fixture()
def fresh(services: Settings) -> Iterator[Pipeline]:
    p = Pipeline.create(services, "history")
    p.load_prices()
    yield p
    p.close()


async def overrides_of(settings: Settings, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        # KRaft propagates an alteration to the broker's metadata a moment later.
        for _ in range(50):
            found = await topic_overrides(admin, topic)
            if all(found.get(k) == v for k, v in CHANGELOG_CONFIG.items()):
                break
            await asyncio.sleep(0.1)
        return found
    finally:
        await admin.close()


def test_changelog_topic_is_created_compacting(fresh: Pipeline) -> None:
    found = asyncio.run(overrides_of(fresh.settings, changelog_topic(fresh.settings)))
    assert {k: found.get(k) for k in CHANGELOG_CONFIG} == CHANGELOG_CONFIG


def test_changelog_topic_of_an_older_version_gets_the_new_config(services: Settings) -> None:
    settings = services.model_copy(update={"app_id": f"costline-test-oldcl-{uuid.uuid4().hex[:8]}"})
    topic = changelog_topic(settings)

    async def create_as_faust_did() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            configs = {"cleanup.policy": "compact", "retention.ms": "604800001"}  # one set by an operator
            await admin.create_topics([NewTopic(topic, settings.partitions, 1, topic_configs=configs)])
        finally:
            await admin.close()

    asyncio.run(create_as_faust_did())
    asyncio.run(ensure_topics(settings))
    found = asyncio.run(overrides_of(settings, topic))
    assert {k: found.get(k) for k in CHANGELOG_CONFIG} == CHANGELOG_CONFIG
    assert found.get("retention.ms") == "604800001"  # the operator's own override stays


def test_sigkill_after_history_restores_windows_and_counts_on(fresh: Pipeline) -> None:
    day = sample_day(tasks_per_agent=300, seed=5)
    history, later = day[: len(day) * 3 // 4], day[len(day) * 3 // 4 :]
    expected = PriceCatalog(load_price_dir(fresh.settings.prices_dir)).totals(day)

    fresh.publish(history)
    fresh.start_worker()
    fresh.wait_until_counted(len(history))
    fresh.kill_worker(signal.SIGKILL)

    fresh.publish(later)  # into windows the first worker left in the changelog
    fresh.start_worker()
    fresh.wait_until_counted(len(day))
    assert fresh.customer_totals() == expected
    assert fresh.windows_match_ledger()
    with open(fresh.log_paths[-1], errors="replace") as newest:
        log = newest.read()
    assert "restored " in log and " changelog records of " in log
    # The store held everything up to the end, so Faust's own, slow recovery read nothing.
    assert "Restoring state from changelog topics" not in log
