"""Create the topics Costline needs, with the settings they need."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.settings import Settings


async def ensure_topics(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(settings.usage_topic, settings.partitions, 1),
            NewTopic(settings.dead_letter_topic, settings.partitions, 1),
            # Compacted: the latest publication of each version id is kept forever.
            NewTopic(
                settings.prices_topic, 1, 1,
                topic_configs={"cleanup.policy": "compact", "min.compaction.lag.ms": "0"},
            ),
        ]
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
