"""One batch of raw usage messages: validate, price, dedup, fold, sink.

Free of Faust so it can be driven by tests; :mod:`streams.agents` feeds it
``stream.take_events`` batches and provides the table-backed state.

Order per batch, before any offset of it is committed:
  1. decode, validate and price each message (failures become dead letters);
  2. drop ``event_id``s counted recently (:mod:`streams.dedup`);
  3. fold into copies of the touched windows (:func:`streams.aggregation.fold`);
  4. write ledger rows, window snapshots and dead letters to ClickHouse;
  5. update the windows table and send dead letters to their topic.
A crash anywhere replays the batch from its first offset, and every step is
idempotent for a replay.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from schemas.dead_letters import DeadLetterCode
from schemas.events import dump_event
from streams.aggregation import (
    WindowAggregate,
    WindowKey,
    fold,
    is_expired,
    position,
    split_position,
    window_keys,
)
from streams.dead_letter import DeadLetter
from streams.decoding import Decoded, configured_bounds, decode_message
from streams.dedup import DedupIndex
from streams.pricing import PriceCatalog, PricedEvent, UnpriceableEventError
from streams.sinks.clickhouse import ClickHouseSink

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RawMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None  # the broker's; occurred_at is bounded against it


class WindowState(Protocol):
    """Durable worker state: window aggregates and, per partition, the event-time
    watermark and the watermark the last expiry ran at."""

    def get(self, key: WindowKey) -> WindowAggregate | None: ...
    def put(self, key: WindowKey, agg: WindowAggregate) -> None: ...
    def watermark(self, partition: int) -> int: ...
    def set_watermark(self, partition: int, value: int) -> None: ...
    def expired_through(self, partition: int) -> int: ...
    async def flush(self) -> None: ...


@dataclass
class BatchStats:
    messages: int = 0
    counted: int = 0
    replayed: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    windows_written: int = 0
    seconds: float = 0.0  # the whole batch
    sink_seconds: float = 0.0  # of which ClickHouse writes


@dataclass
class BatchProcessor:
    catalog: PriceCatalog
    sink: ClickHouseSink
    state: WindowState
    dedup: DedupIndex
    window_sizes: tuple[int, ...]
    retention: dict[int, int]
    send_dead_letter: Callable[[DeadLetter], Awaitable[None]]
    retry_delay_s: float = 1.0

    async def process(self, messages: Sequence[RawMessage]) -> BatchStats:
        stats = BatchStats(messages=len(messages))
        started = time.perf_counter()
        priced, dead = self._decode_and_price(messages)
        counted = await self._drop_duplicates(priced, stats)
        previous = {p: self.state.watermark(p) for p, _, _ in counted}
        current = await self._current_windows(counted)
        watermarks = self._advance(previous, counted)
        result = fold(counted, self.window_sizes, current)
        stats.counted, stats.replayed = result.folded, result.skipped
        stats.dead_letters = len(dead)

        stats.windows_written = len(result.changed)
        sink_started = time.perf_counter()
        await self._with_retry(lambda: self.sink.write(counted, result.changed, [d.row() for d in dead]))
        stats.sink_seconds = time.perf_counter() - sink_started
        for key, agg in result.changed.items():
            self.state.put(key, agg)
        for partition, watermark in watermarks.items():
            self.state.set_watermark(partition, watermark)
        await self.state.flush()
        for letter in dead:
            await self.send_dead_letter(letter)
        stats.seconds = time.perf_counter() - started
        return stats

    def _decode_and_price(
        self, messages: Sequence[RawMessage]
    ) -> tuple[list[tuple[int, int, PricedEvent]], list[DeadLetter]]:
        priced: list[tuple[int, int, PricedEvent]] = []
        dead: list[DeadLetter] = []
        now = datetime.now(UTC)
        for msg in messages:
            for item in decode_message(msg.value or b"", msg.timestamp_ms, configured_bounds()):
                event = item.event
                if event is None:
                    assert item.error is not None
                    dead.append(_dead(msg, item, *item.error, now))
                    continue
                if msg.key != event.customer_id.encode():
                    # Per-window offset marks need all of a customer's events on one partition.
                    reason = (
                        f"message key {msg.key!r} is not the event's customer_id "
                        f"{event.customer_id!r}; key usage messages by customer_id"
                    )
                    dead.append(_dead(msg, item, DeadLetterCode.WRONG_KEY, reason, now))
                    continue
                try:
                    cost = self.catalog.price(event)
                except UnpriceableEventError as exc:
                    dead.append(_dead(msg, item, exc.code, exc.reason, now))
                    continue
                priced.append((msg.partition, position(msg.offset, item.index), cost))
        return priced, dead

    async def _drop_duplicates(
        self, priced: Iterable[tuple[int, int, PricedEvent]], stats: BatchStats
    ) -> list[tuple[int, int, PricedEvent]]:
        kept = []
        for partition, pos, item in priced:
            seen = self.dedup.get(partition)
            if seen is None:
                ids = await self._recent_ids(partition, split_position(pos)[0])
                seen = self.dedup.install(partition, ids)
            event_id = item.event.event_id
            if seen.seen(event_id):
                stats.duplicates += 1
                continue
            seen.add(event_id)
            kept.append((partition, pos, item))
        return kept

    async def _recent_ids(self, partition: int, first_offset: int) -> list[str]:
        window = self.dedup.window_seconds
        return await self._with_retry(lambda: self.sink.recent_event_ids(partition, first_offset, window))

    @staticmethod
    def _advance(
        watermarks: dict[int, int], counted: Iterable[tuple[int, int, PricedEvent]]
    ) -> dict[int, int]:
        """Each partition's highest event time, including this batch."""
        marks = dict(watermarks)
        for partition, _, item in counted:
            at = int(item.event.occurred_at.timestamp())
            if at > marks[partition]:
                marks[partition] = at
        return marks

    async def _current_windows(
        self, counted: Iterable[tuple[int, int, PricedEvent]]
    ) -> dict[WindowKey, WindowAggregate]:
        """State before the batch of every window it touches.

        A window missing from worker state is new, or was expired from it
        (see :meth:`TableState.expire`) and is now hit by a late event. Only
        the latter can have a snapshot in ClickHouse, and only a window past
        its retention at the watermark the last expiry ran at can have been
        expired, so only those are looked up.
        """
        current: dict[WindowKey, WindowAggregate] = {}
        expired: set[WindowKey] = set()
        expired_through: dict[int, int] = {}
        for partition, _, item in counted:
            for key in window_keys(item, self.window_sizes):
                if key in current or key in expired:
                    continue
                agg = self.state.get(key)
                if agg is not None:
                    current[key] = agg
                    continue
                if partition not in expired_through:
                    expired_through[partition] = self.state.expired_through(partition)
                if is_expired(key, expired_through[partition], self.retention):
                    expired.add(key)
        if expired:
            current.update(await self._with_retry(lambda: self.sink.load_windows(expired)))
        return current

    async def _with_retry(self, call: Callable[[], Awaitable[T]]) -> T:
        """ClickHouse being away pauses the stream; it never drops a batch."""
        delay = self.retry_delay_s
        while True:
            try:
                return await call()
            except Exception as exc:
                log.warning("ClickHouse call failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)


def _dead(msg: RawMessage, item: Decoded, code: DeadLetterCode, reason: str, now: datetime) -> DeadLetter:
    """The rejected event alone, so replaying it cannot repeat its neighbours."""
    value = item.raw or (dump_event(item.event) if item.event is not None else msg.value)
    return DeadLetter(code, reason, msg.topic, msg.partition, msg.offset, msg.key, value, now, item.index)
