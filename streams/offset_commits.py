"""The usage topic is processed in offset order, and committed only as far as processed.

Windows are made idempotent by marks: each remembers the highest source
position folded into it, so a message must never be processed after a later
one of its partition. faust-streaming 0.15.3 does not guarantee that around
a rebalance: after it seeks a partition back to its committed offset, the
rest of a fetch made before the seek is still delivered, moves faust's read
offset past the seek point, and the re-fetched messages are then dropped as
already read. Its commits follow acks, and ``take_events`` acks a whole
batch, so a hole left that way was committed over (one event lost in CI,
628 messages in a benchmark run). It also forgets a committed offset of 0,
and then checks for holes not at all.

So the worker keeps its own books per usage partition (:class:`PartitionProgress`):

- from each assignment's seek it knows the committed offset, 0 included;
- a batch is admitted in order: a message at the expected offset, or a replay
  below it; at the first message past a hole, that partition's rest of the
  batch is set aside and the consumer seeks back to the hole. The messages
  set aside arrive again after the seek;
- commits are the offset after the last message processed in order, never
  anything faust inferred from acks.

The usage topic's offsets are contiguous (not compacted, no transactions),
which is what makes "the next offset" exact. :func:`seed_committed_offsets`
gives every partition a committed offset before the worker joins.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.consumer import Consumer
from faust.types import TP

from costline.config import Settings
from costline.kafka import topic_partitions
from costline.kafka_auth import client_security

log = logging.getLogger(__name__)


class Positioned(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...


M = TypeVar("M", bound=Positioned)


@dataclass
class PartitionProgress:
    """Per usage partition: the next offset to process, and how far processing is done."""

    expected: dict[tuple[str, int], int] = field(default_factory=dict)
    processed: dict[tuple[str, int], int] = field(default_factory=dict)

    def reset(self, topic: str, partition: int, committed: int | None) -> None:
        """At an assignment: processing resumes at the committed offset."""
        key = (topic, partition)
        self.processed.pop(key, None)
        if committed is None:
            self.expected.pop(key, None)  # unknown: the first message sets it
        else:
            self.expected[key] = committed

    def admit(self, batch: Sequence[M]) -> tuple[list[M], dict[tuple[str, int], int]]:
        """The messages to process now, in order, and the holes to seek back to."""
        admitted: list[M] = []
        holes: dict[tuple[str, int], int] = {}
        for message in batch:
            key = (message.topic, message.partition)
            if key in holes:
                continue
            expected = self.expected.get(key, message.offset)
            if message.offset > expected:
                holes[key] = expected
                continue
            admitted.append(message)
            if message.offset == expected:
                self.expected[key] = expected + 1
        return admitted, holes

    def done(self, admitted: Sequence[M]) -> None:
        """``admitted`` is durably processed: commits may move past it."""
        for message in admitted:
            key = (message.topic, message.partition)
            if message.offset >= self.processed.get(key, 0):
                self.processed[key] = message.offset + 1

    def committable(self, topic: str, partition: int) -> int | None:
        return self.processed.get((topic, partition))


progress = PartitionProgress()


def install(strict_topics: set[str], books: PartitionProgress = progress) -> None:
    """Make faust commit the strict topics from ``books`` and reset it at every seek."""
    original_new_offset = Consumer._new_offset
    original_seek = Consumer.perform_seek

    def _new_offset(self: Any, tp: TP) -> int | None:
        if tp.topic not in strict_topics:
            return original_new_offset(self, tp)  # type: ignore[no-any-return]
        # Acks say nothing here; drop them so the lists stay small.
        self._acked[tp].clear()
        self._acked_index[tp].clear()
        offset = books.committable(tp.topic, tp.partition)
        committed = self._committed_offset.get(tp)
        if offset is None or (committed is not None and offset <= committed):
            return None
        return offset

    async def perform_seek(self: Any) -> None:
        await original_seek(self)
        # faust has just copied the committed offsets into _read_offset as
        # they are (it stored a committed 0 as "none" in _committed_offset).
        for tp, offset in self._read_offset.items():
            if tp.topic in strict_topics:
                books.reset(tp.topic, tp.partition, offset)
                if offset == 0:
                    self._committed_offset[tp] = 0

    Consumer._new_offset = _new_offset  # type: ignore[method-assign]
    Consumer.perform_seek = perform_seek  # type: ignore[method-assign]


async def seed_committed_offsets(settings: Settings) -> None:
    """Commit the log start for usage partitions the group has no offset for.

    Best effort: a group that already has live members refuses commits from
    outside it, and then its members have committed offsets of their own.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.app_id,
        enable_auto_commit=False,
        **client_security(settings),
    )
    await consumer.start()
    try:
        tps = [
            TopicPartition(settings.usage_topic, p)
            for p in await topic_partitions(settings, settings.usage_topic)
        ]
        consumer.assign(tps)
        missing = [tp for tp in tps if await consumer.committed(tp) is None]
        if missing:
            starts = await consumer.beginning_offsets(missing)
            await consumer.commit({tp: starts[tp] for tp in missing})
    except Exception as exc:  # seeding is best effort; see the docstring
        log.info("did not seed committed offsets (%s); the group already has them", exc)
    finally:
        await consumer.stop()
