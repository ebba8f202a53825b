"""Offset commits for the usage topic that never skip an unprocessed message.

faust-streaming 0.15.3 commits the highest run of acked offsets. It checks
for a hole at the head of that run only when the committed offset is truthy
(so never for a partition with nothing committed yet, nor one committed at
0), and then lets a hole of one message through (``min(acked) - committed >
1``). A message dropped while a rebalance suspends the flow was therefore
committed without ever being processed: one event in a two-worker test, 628
messages in a benchmark run.

The usage topic's offsets are contiguous (not compacted, no transactions),
so for it a commit must start exactly at the committed offset. On a hole the
consumer seeks back to it: the missing messages are read again, and the ones
after them, already counted, replay idempotently (offset marks, dedup). For a
partition with no committed offset the worker seeds one at the log start
before it joins (:func:`seed_committed_offsets`), so the head is always known.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.consumer import Consumer
from faust.types import TP

from streams.settings import Settings
from streams.topics import topic_partitions

log = logging.getLogger(__name__)


def install(strict_topics: set[str]) -> None:
    original = Consumer._new_offset
    rereads: dict[tuple[TP, int], asyncio.Future[None]] = {}  # one seek per hole

    def _new_offset(self: Any, tp: TP) -> int | None:
        if tp.topic not in strict_topics:
            return original(self, tp)  # type: ignore[no-any-return]
        committed = self._committed_offset.get(tp)
        if committed is None:
            return original(self, tp)  # type: ignore[no-any-return]
        acked: list[int] = self._acked[tp]
        index: set[int] = self._acked_index[tp]
        acked.sort()
        while acked and acked[0] < committed:  # re-acked after a replay
            index.discard(acked.pop(0))
        if not acked:
            return None
        if acked[0] != committed:
            if (tp, committed) not in rereads:
                log.warning(
                    "%s: offsets %d..%d were never acked, %d.. were; reading them again",
                    tp, committed, acked[0] - 1, acked[0],
                )  # fmt: skip
                rereads[(tp, committed)] = asyncio.ensure_future(self.seek(tp, committed))
            return None
        end: int = committed
        while end - committed < len(acked) and acked[end - committed] == end:
            end += 1
        for offset in acked[: end - committed]:
            index.discard(offset)
        del acked[: end - committed]
        rereads.pop((tp, committed), None)  # the hole, if there was one, is filled
        return end

    Consumer._new_offset = _new_offset  # type: ignore[method-assign]


async def seed_committed_offsets(settings: Settings) -> None:
    """Commit the log start for usage partitions the group has no offset for.

    Best effort: a group that already has live members refuses commits from
    outside it, and then its members have committed offsets of their own.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=settings.app_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [
            TopicPartition(settings.usage_topic, p)
            for p in await topic_partitions(settings.kafka_bootstrap, settings.usage_topic)
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
