"""Create the topics Costline needs, with the settings they need."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import RequestTimedOutError, TopicAlreadyExistsError, UnknownTopicOrPartitionError

from costline.config import Settings
from costline.kafka_auth import client_security

log = logging.getLogger(__name__)

WINDOWS_TABLE = "cost-windows"

# Every worker start replays the windows table's changelog in full (the
# store is in memory). Kafka compacts only closed segments, and by default a
# segment closes at 1 GiB or after 7 days, so with the defaults the changelog
# was never compacted and a restart re-read all of history (54 s after ~500k
# records). Segments that close every minute, a cleaner that starts at 10 %
# dirty (or after 5 minutes at most), and tombstones kept one minute keep a
# restore to about the live windows plus the last minutes of writes. A
# reader that restores must get to the end within delete.retention.ms to see
# every deletion; a restore takes seconds.
CHANGELOG_CONFIG: dict[str, str] = {
    "cleanup.policy": "compact",
    "segment.ms": "60000",
    "segment.bytes": str(8 * 1024 * 1024),
    "min.cleanable.dirty.ratio": "0.1",
    "min.compaction.lag.ms": "0",
    "max.compaction.lag.ms": "300000",
    "delete.retention.ms": "60000",
}

# Compacted: the latest publication of each version id is kept forever. Each
# `prices load` republishes every version, so segments close hourly (not at
# 1 GiB) for the cleaner to drop the older copies a worker start reads.
PRICES_CONFIG: dict[str, str] = {
    "cleanup.policy": "compact",
    "min.compaction.lag.ms": "0",
    "segment.ms": "3600000",
    "segment.bytes": str(1024 * 1024),
}

_DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs config_source: set on the topic itself


def changelog_topic(settings: Settings) -> str:
    """The windows table's changelog topic, named as Faust names it."""
    return f"{settings.app_id}-{WINDOWS_TABLE}-changelog"


async def ensure_topics(settings: Settings) -> None:
    """Create missing topics; give existing compacted ones the config this version needs."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **client_security(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        compacted = {
            settings.prices_topic: PRICES_CONFIG,
            settings.budgets_topic: PRICES_CONFIG,
            changelog_topic(settings): CHANGELOG_CONFIG,
            settings.budget_spend_topic: CHANGELOG_CONFIG,
        }
        wanted = [
            NewTopic(settings.usage_topic, settings.partitions, 1),
            NewTopic(settings.dead_letter_topic, settings.partitions, 1),
            NewTopic(settings.prices_topic, 1, 1, topic_configs=PRICES_CONFIG),
            # Budgets are few and change rarely: compacted like prices, every worker reads them all.
            NewTopic(settings.budgets_topic, 1, 1, topic_configs=PRICES_CONFIG),
            # One partition: alerts are rare, and a receiver sees a scope's firing before its resolved.
            NewTopic(settings.alerts_topic, 1, 1),
            # The live spend per budget the gate reads: only the latest per key matters, so it
            # compacts as the changelog does; one partition, as a budget changes at most once a batch.
            NewTopic(settings.budget_spend_topic, 1, 1, topic_configs=CHANGELOG_CONFIG),
            # Faust would create it at start, but only a missing one; see CHANGELOG_CONFIG.
            NewTopic(changelog_topic(settings), settings.partitions, 1, topic_configs=CHANGELOG_CONFIG),
        ]
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            existing |= _already_there(await admin.create_topics(missing))
        for topic, config in compacted.items():
            if topic in existing:
                await align_topic_config(admin, topic, config)
    finally:
        await admin.close()


def is_app_topic(settings: Settings, topic: str) -> bool:
    """Whether ``topic`` belongs to ``settings.app_id``: its own (``app_id.usage``, ...) or one Faust
    names after it (``app_id-cost-windows-changelog``, ``app_id-__assignor-__leader``)."""
    return topic.startswith((f"{settings.app_id}.", f"{settings.app_id}-"))


async def delete_app_topics(settings: Settings, gone_within_s: float = 60.0) -> list[str]:
    """Delete every topic of ``settings.app_id`` (see :func:`is_app_topic`); the names deleted,
    once the broker no longer lists them.

    The broker deletes asynchronously: on a loaded box its answer may be a timeout (code 7) while the
    deletion goes on, and the topics stay listed for a while after it. A topic of the same name may
    not be creatable at once even then."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **client_security(settings))
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if is_app_topic(settings, t)]
        if topics:
            _check_deleted(await admin.delete_topics(topics))
            await _until_unlisted(admin, set(topics), gone_within_s)
        return topics
    finally:
        await admin.close()


# DeleteTopics answers that leave the topic deleted or on its way: none, unknown topic, timed out.
_DELETING = frozenset((0, UnknownTopicOrPartitionError.errno, RequestTimedOutError.errno))


def _check_deleted(response: Any) -> None:
    for topic, error_code, *_ in response.topic_error_codes:
        if error_code not in _DELETING:
            raise RuntimeError(f"deleting topic {topic!r} failed (code {error_code})")


async def _until_unlisted(admin: AIOKafkaAdminClient, topics: set[str], within_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while left := topics & set(await admin.list_topics()):
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"topics still listed {within_s:.0f} s after their deletion: {sorted(left)}")
        await asyncio.sleep(0.2)


def _already_there(response: Any) -> set[str]:
    """The topics a CreateTopics response says exist already: created meanwhile, or not yet in
    the metadata the broker listed (just after a create). They are existing topics, whose config
    may be an older version's, so they are aligned as listed ones are. Any other refusal is raised."""
    found: set[str] = set()
    for topic, error_code, *message in response.topic_errors:
        if error_code == TopicAlreadyExistsError.errno:
            found.add(topic)
        elif error_code != 0:
            detail = message[0] if message and message[0] else "no message"
            raise RuntimeError(f"creating topic {topic!r} failed: {detail} (code {error_code})")
    return found


async def topic_overrides(admin: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    """The configs set on ``topic`` itself (not inherited from the broker's defaults)."""
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    overrides: dict[str, str] = {}
    for response in responses:
        for error_code, message, _, _, entries in response.resources:
            if error_code != 0:
                raise RuntimeError(f"describing topic {topic!r} failed: {message} (code {error_code})")
            for entry in entries:
                # v0 says is_default; later versions give the source of the value.
                set_here = not entry[3] if response.API_VERSION == 0 else entry[3] == _DYNAMIC_TOPIC_CONFIG
                if set_here and entry[1] is not None:
                    overrides[entry[0]] = entry[1]
    return overrides


async def align_topic_config(admin: AIOKafkaAdminClient, topic: str, wanted: Mapping[str, str]) -> bool:
    """Give an existing topic ``wanted``, keeping its other overrides; True if it changed.

    A topic made by an older version (for the changelog, by Faust with only
    ``cleanup.policy``) keeps its config until altered. AlterConfigs
    replaces a topic's whole set of overrides, hence the merge.
    """
    current = await topic_overrides(admin, topic)
    if all(current.get(name) == value for name, value in wanted.items()):
        return False
    merged = {**current, **wanted}
    responses: list[Any] = await admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, configs=merged)]
    )
    for response in responses:
        for error_code, message, *_ in response.resources:
            if error_code != 0:
                raise RuntimeError(f"altering topic {topic!r} failed: {message} (code {error_code})")
    changed = {name: value for name, value in wanted.items() if current.get(name) != value}
    log.info("topic %s: config updated %s", topic, changed)
    return True


async def topic_partitions(settings: Settings, topic: str, wait_s: float = 30) -> list[int]:
    """The partition numbers of ``topic``, waiting up to ``wait_s`` for it to exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **client_security(settings))
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


async def max_message_bytes(settings: Settings, topic: str) -> int:
    """The largest record the broker takes on ``topic`` (its ``max.message.bytes``)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **client_security(settings))
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
