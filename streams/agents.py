"""The worker's agents: count usage in batches, follow prices, expire windows."""

from __future__ import annotations

import logging
from typing import Any, cast

from faust.types import TP, StreamT

from streams.aggregation import WindowAggregate, WindowKey, is_expired
from streams.app import app, settings
from streams.clickhouse import open_async_client
from streams.dead_letter import DeadLetter
from streams.dedup import DedupIndex
from streams.price_feed import PriceFeed
from streams.pricing import PriceCatalog
from streams.processor import BatchProcessor, RawMessage
from streams.sinks.clickhouse import ClickHouseSink
from streams.topology import dead_letter_topic, usage_topic, windows_table

log = logging.getLogger(__name__)


_WATERMARK_PREFIX = b'["~watermark",'


def _watermark_key(partition: int) -> bytes:
    return _WATERMARK_PREFIX + str(partition).encode() + b"]"


class TableState:
    """Window aggregates in the Faust table, changelogged to the source partition.

    ``table[key] = value`` would pick the changelog partition from the
    current event, and inside a ``take_events`` batch that event may belong
    to another customer's partition. Writing through the store and sending
    the changelog record explicitly keeps each window on its customer's
    partition, so a rebalance restores it to the worker that owns it.
    """

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, key: WindowKey) -> WindowAggregate | None:
        raw = self.table.data.get(key.encode())
        return WindowAggregate.decode(raw) if raw is not None else None

    def put(self, key: WindowKey, agg: WindowAggregate) -> None:
        raw_key, raw_value = key.encode(), agg.encode()
        self._store(raw_key, raw_value, agg.partition)
        self.table.send_changelog(agg.partition, raw_key, raw_value)

    def watermark(self, partition: int) -> int:
        raw = self.table.data.get(_watermark_key(partition))
        return int(raw) if raw is not None else 0

    def set_watermark(self, partition: int, value: int) -> None:
        key, raw = _watermark_key(partition), str(value).encode()
        self._store(key, raw, partition)
        self.table.send_changelog(partition, key, raw)

    def expire(self, retention: dict[int, int]) -> int:
        """Drop windows closed longer than their retention ago, by event time.

        Runs on a timer. Deletions are changelogged (tombstones) so a restore
        does not bring them back; a late event reloads its window from
        ClickHouse instead (:meth:`BatchProcessor._current_windows`).
        """
        expired = []
        for raw_key, raw_value in list(self.table.data.items()):
            if raw_key.startswith(_WATERMARK_PREFIX):
                continue
            agg = WindowAggregate.decode(raw_value)
            if is_expired(WindowKey.decode(raw_key), self.watermark(agg.partition), retention):
                expired.append((raw_key, agg.partition))
        for raw_key, partition in expired:
            self.table.data.pop(raw_key, None)
            self.table.send_changelog(partition, raw_key, None, value_serializer="raw")
        return len(expired)

    def _store(self, raw_key: bytes, raw_value: bytes, partition: int) -> None:
        store = self.table.data
        store[raw_key] = raw_value
        # The memory store drops keys of partitions this worker lost after a
        # rebalance by this map; keep it true for keys written here too.
        key_partition = getattr(store, "_key_partition", None)
        if key_partition is not None:
            key_partition[raw_key] = partition


catalog = PriceCatalog()
price_feed = PriceFeed(settings, catalog)
dedup = DedupIndex(settings.dedup_window_s)
state = TableState(windows_table)
_processor: BatchProcessor | None = None


async def _send_dead_letter(letter: DeadLetter) -> None:
    await dead_letter_topic.send(key=letter.key, value=letter.value, headers=letter.headers())


async def get_processor() -> BatchProcessor:
    global _processor
    if _processor is None:
        _processor = BatchProcessor(
            catalog=catalog,
            sink=ClickHouseSink(await open_async_client(settings)),
            state=state,
            dedup=dedup,
            window_sizes=settings.window_sizes,
            retention=settings.retention_by_size,
            send_dead_letter=_send_dead_letter,
        )
    return _processor


@app.task
async def follow_prices() -> None:
    await price_feed.run()


@app.agent(usage_topic)
async def count_usage(stream: StreamT[bytes]) -> None:
    processor = await get_processor()
    await price_feed.ready.wait()
    # take_events is faust-streaming's; StreamT's stubs predate it.
    async for events in cast(Any, stream).take_events(settings.batch_max, within=settings.batch_within_s):
        batch = [
            RawMessage(
                e.message.topic,
                e.message.partition,
                e.message.offset,
                e.message.key,
                e.message.value,
            )
            for e in events
        ]
        stats = await processor.process(batch)
        log.info(
            "batch: %d messages, %d counted, %d replayed, %d duplicates, %d dead letters; "
            "%d windows; %.0f ms (ClickHouse %.0f ms)",
            stats.messages,
            stats.counted,
            stats.replayed,
            stats.duplicates,
            stats.dead_letters,
            stats.windows_written,
            stats.seconds * 1000,
            stats.sink_seconds * 1000,
        )


@app.timer(interval=30.0)
async def expire_windows() -> None:
    if _processor is not None:
        dropped = state.expire(settings.retention_by_size)
        if dropped:
            log.info("expired %d closed windows from worker state", dropped)


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def forget_revoked(sender: Any, revoked: set[TP], **kwargs: Any) -> None:
    dedup.forget(tp.partition for tp in revoked if tp.topic == settings.usage_topic)
