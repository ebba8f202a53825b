"""Create the topics Costline needs, with the settings they need."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
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
                settings.prices_topic,
                1,
                1,
                topic_configs={"cleanup.policy": "compact", "min.compaction.lag.ms": "0"},
            ),
        ]
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # created meanwhile
                await admin.create_topics(missing)
    finally:
        await admin.close()


async def topic_partitions(bootstrap: str, topic: str, wait_s: float = 30) -> list[int]:
    """The partition numbers of ``topic``, waiting up to ``wait_s`` for it to exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            described = await admin.describe_topics([topic])
            found = [p["partition"] for d in described if d["error_code"] == 0 for p in d["partitions"]]
            if found or asyncio.get_running_loop().time() > deadline:
                return sorted(found)
            await asyncio.sleep(0.5)
    finally:
        await admin.close()


async def caught_up(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    """Whether the consumer has read every partition up to the given end offsets."""
    for tp, offset in end.items():
        if await consumer.position(tp) < offset:
            return False
    return True


async def max_message_bytes(bootstrap: str, topic: str) -> int:
    """The largest record the broker takes on ``topic`` (its ``max.message.bytes``)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": None})
        for response in await admin.describe_configs([resource]):
            for entry in response.resources[0][4]:  # (name, value, read_only, source, ...)
                if entry[0] == "max.message.bytes":
                    return int(entry[1])
        raise RuntimeError(f"the broker did not say max.message.bytes for {topic}")
    finally:
        await admin.close()
