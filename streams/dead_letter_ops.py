"""Read and replay the dead-letter topic."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.dead_letter import DeadLetter
from streams.settings import Settings
from streams.topics import caught_up, ensure_topics, topic_partitions

REPLAY_GROUP = "costline-dlq-replay"


async def _drain(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> list[tuple[TopicPartition, DeadLetter]]:
    """Every record from the consumer's positions up to the current end."""
    end = await consumer.end_offsets(partitions)
    found: list[tuple[TopicPartition, DeadLetter]] = []
    while not await caught_up(consumer, end):
        batches = await consumer.getmany(timeout_ms=1000)
        for tp, records in batches.items():
            for r in records:
                found.append((tp, DeadLetter.from_record(r.key, r.value, r.headers)))
    return found


async def _partitions(settings: Settings, topic: str) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in await topic_partitions(settings.kafka_bootstrap, topic)]


async def list_dead_letters(settings: Settings) -> list[DeadLetter]:
    await ensure_topics(settings)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = await _partitions(settings, settings.dead_letter_topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        letters = [letter for _, letter in await _drain(consumer, partitions)]
    finally:
        await consumer.stop()
    return sorted(letters, key=lambda d: d.failed_at)


async def replay_dead_letters(settings: Settings, code: str | None = None) -> int:
    """Republish dead letters not replayed before (tracked by a consumer group).

    Letters skipped by ``code`` are passed over for good, like the others:
    the group's committed offset moves past them.
    """
    await ensure_topics(settings)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=REPLAY_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await consumer.start()
    await producer.start()
    try:
        partitions = await _partitions(settings, settings.dead_letter_topic)
        consumer.assign(partitions)
        for tp in partitions:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        replayed = 0
        for _, letter in await _drain(consumer, partitions):
            if letter.value is None or (code is not None and letter.code != code):
                continue
            await producer.send(settings.usage_topic, key=letter.key, value=letter.value)
            replayed += 1
        await producer.flush()
        await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    return replayed
