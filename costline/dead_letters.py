"""Read and replay the dead-letter topic, and list the ``dead_letters`` table it is mirrored to.

A letter whose payload was cut to fit the broker is replayed with its whole
payload, read from the ``dead_letters`` table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from clickhouse_connect.driver.client import Client

from costline.clickhouse import open_client, read_query
from costline.config import Settings
from costline.kafka import caught_up, ensure_topics, max_message_bytes, topic_partitions
from costline.kafka_auth import client_security
from schemas.dead_letters import DeadLetter

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
    return [TopicPartition(topic, p) for p in await topic_partitions(settings, topic)]


async def list_dead_letters(settings: Settings) -> list[DeadLetter]:
    await ensure_topics(settings)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        **client_security(settings),
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
        **client_security(settings),
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        max_request_size=await max_message_bytes(settings, settings.usage_topic),
        **client_security(settings),
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
        client: Client | None = None  # opened at the first cut letter, if any
        for _, letter in await _drain(consumer, partitions):
            if letter.value is None or (code is not None and letter.code != code):
                continue
            value = letter.value
            if letter.truncated_from is not None:
                client = client or open_client(settings)
                value = whole_payload(client, letter)
            await producer.send(settings.usage_topic, key=letter.key, value=value)
            replayed += 1
        await producer.flush()
        await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    return replayed


def whole_payload(client: Client, letter: DeadLetter) -> bytes:
    """The payload a cut letter stands for, from ClickHouse."""
    result = client.query(
        read_query("dead_letter_payload"),
        parameters={
            "topic": letter.source_topic,
            "partition": letter.source_partition,
            "offset": letter.source_offset,
            "index": letter.source_index,
        },
        column_formats={"payload": "bytes"},
    )
    if not result.result_rows:
        raise LookupError(
            f"dead letter {letter.source_topic}[{letter.source_partition}]@{letter.source_offset}"
            f"#{letter.source_index} is cut on the topic and missing from the dead_letters table"
        )
    payload: bytes = result.result_rows[0][0]
    return payload


# --- the dead_letters table: what the read API lists --------------------------------------------

LetterKey = tuple[str, str, int, int, int]
"""Where a letter sorts: failed_at (ISO 8601), source topic, partition, offset and index."""


@dataclass(frozen=True, slots=True)
class StoredLetter:
    """A row of ``dead_letters``; ``customer`` is the customer_id its payload names, if it names one."""

    failed_at: datetime
    code: str
    reason: str
    source_topic: str
    source_partition: int
    source_offset: int
    source_index: int
    message_key: str
    customer: str | None
    payload_bytes: int
    payload: bytes | None = None  # read for one letter only

    @property
    def letter_id(self) -> str:
        """Names the letter in the API: Kafka topic names hold no ':'."""
        return f"{self.source_topic}:{self.source_partition}:{self.source_offset}:{self.source_index}"

    @property
    def key(self) -> LetterKey:
        failed_at = self.failed_at.isoformat(timespec="milliseconds")
        return (failed_at, self.source_topic, self.source_partition, self.source_offset, self.source_index)


@dataclass(frozen=True, slots=True)
class LetterFilter:
    code: str | None = None
    since: datetime | None = None
    customer: str | None = None


def stored_letters(
    client: Client, which: LetterFilter, after: LetterKey | None = None, limit: int = 100
) -> list[StoredLetter]:
    """Letters in the table in the order they failed: those after ``after``, at most ``limit``."""
    failed_at, topic, partition, offset, index = after or (_EPOCH.isoformat(), "", 0, 0, 0)
    result = client.query(
        read_query("dead_letter_rows"),
        parameters={
            "code": which.code or "",
            "since": which.since or _EPOCH,
            "customer": which.customer or "",
            "after_failed_at": datetime.fromisoformat(failed_at),
            "after_topic": topic,
            "after_partition": partition,
            "after_offset": offset,
            "after_index": index,
            "paged": after is not None,
            "limit": limit,
        },
    )
    return [_letter(row) for row in result.result_rows]


def stored_letter(client: Client, letter_id: str) -> StoredLetter | None:
    """The letter ``letter_id`` names, with its whole payload; None if there is none."""
    topic, _, place = letter_id.partition(":")
    parts = place.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    partition, offset, index = (int(p) for p in parts)
    if partition >= 2**16 or offset >= 2**64 or index >= 2**32:
        return None
    result = client.query(
        read_query("dead_letter"),
        parameters={"topic": topic, "partition": partition, "offset": offset, "index": index},
        column_formats={"payload": "bytes"},
    )
    if not result.result_rows:
        return None
    *fields, payload = result.result_rows[0]
    return replace(_letter(fields), payload=payload)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _letter(row: Sequence[Any]) -> StoredLetter:
    failed_at, code, reason, topic, partition, offset, index, key, customer, size = row
    return StoredLetter(
        failed_at.replace(tzinfo=UTC),
        code,
        reason,
        topic,
        partition,
        offset,
        index,
        key,
        customer or None,
        size,
    )
