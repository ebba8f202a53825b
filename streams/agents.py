"""The worker's agents: count usage in batches, follow prices, expire windows."""

from __future__ import annotations

import logging
import time
from typing import Any, cast

from clickhouse_connect.driver.asyncclient import AsyncClient
from faust.types import TP, StreamT

from costline.clickhouse import open_async_client
from costline.kafka import max_message_bytes
from schemas.dead_letters import DeadLetter
from streams import web, wire_columns
from streams.app import app, settings
from streams.decoding import TimeBounds
from streams.dedup import DedupIndex
from streams.garbage_collection import between_batches
from streams.metrics import PartitionSample, WorkerMetrics
from streams.offset_commits import progress
from streams.price_feed import PriceFeed
from streams.pricing import PriceCatalog
from streams.processor import BatchProcessor, RawMessage
from streams.sinks.clickhouse_sink import ClickHouseSink
from streams.spend_wiring import budget_feed, live_spend, spend_control, spend_records
from streams.topology import dead_letter_topic, usage_topic, windows_table
from streams.window_state import TableState

log = logging.getLogger(__name__)


catalog = PriceCatalog()
price_feed = PriceFeed(settings, catalog)
dedup = DedupIndex(settings.dedup_horizon_s)
state = TableState(windows_table, settings.retention_by_size)
metrics = WorkerMetrics()
_processor: BatchProcessor | None = None
_clickhouse: list[AsyncClient] = []  # the processor's clients, closed as the worker stops
_assigned_at: float | None = None  # monotonic; set at each assignment until it is restored


class DeadLetterSender:
    """Sends letters cut to what both the broker and our producer accept."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    async def __call__(self, letter: DeadLetter) -> None:
        key, value, headers = letter.record(self.max_bytes)
        if value is not letter.value:
            log.warning(
                "dead letter %s[%d]@%d#%d is %d bytes, over the %d the broker takes; its payload on %s "
                "is cut (header costline.truncated_from), the whole of it is in ClickHouse dead_letters",
                letter.source_topic, letter.source_partition, letter.source_offset, letter.source_index,
                len(letter.value or b""), self.max_bytes, settings.dead_letter_topic,
            )  # fmt: skip
        await dead_letter_topic.send(key=key, value=value, headers=headers)


async def get_processor() -> BatchProcessor:
    global _processor
    if _processor is None:
        broker_limit = await max_message_bytes(settings, settings.dead_letter_topic)
        # One for the batch's writes, one for its alerts, which are stored side by side with them.
        _clickhouse.extend([await open_async_client(settings), await open_async_client(settings)])
        _processor = BatchProcessor(
            catalog=catalog,
            sink=ClickHouseSink(_clickhouse[0]),
            state=state,
            dedup=dedup,
            window_sizes=settings.window_sizes,
            retention=settings.retention_by_size,
            send_dead_letter=DeadLetterSender(min(broker_limit, app.conf.producer_max_request_size)),
            retry_delay_s=settings.retry_delay_s,
            retry_delay_max_s=settings.retry_delay_max_s,
            call_timeout_s=settings.clickhouse_timeout_s + 5,
            bounds=TimeBounds.from_settings(settings),
            on_sink_error=metrics.observe_sink_error,
            spend=spend_control(_clickhouse[1]),
        )
    return _processor


@app.task
async def follow_prices() -> None:
    await price_feed.run()


@app.task
async def follow_budgets() -> None:
    await budget_feed.run()


@app.agent(usage_topic)
async def count_usage(stream: StreamT[bytes]) -> None:
    processor = await get_processor()
    await price_feed.ready.wait()
    await budget_feed.ready.wait()
    # take_events is faust-streaming's; StreamT's stubs predate it.
    async for events in cast(Any, stream).take_events(settings.batch_max, within=settings.batch_within_s):
        batch = [RawMessage.of(e.message) for e in events]
        admitted, holes = progress.admit(batch)
        for (topic, partition), offset in holes.items():
            await _read_again(TP(topic, partition), offset)
        if not admitted:
            continue
        with between_batches():
            stats = await processor.process(admitted)
        progress.done(admitted)
        metrics.observe_batch(stats)
        log.info(
            "batch: %d messages, %d counted, %d replayed, %d duplicates (%d ids checked), "
            "%d dead letters (%d unstorable); %d windows; %.0f ms (ClickHouse %.0f ms)",
            stats.messages,
            stats.counted,
            stats.replayed,
            stats.duplicates,
            stats.dedup_checked,
            stats.dead_letters,
            stats.unstorable,
            stats.windows_written,
            stats.seconds * 1000,
            stats.sink_seconds * 1000,
        )


async def _read_again(tp: TP, offset: int) -> None:
    """A partition skipped ``offset``: seek back to it, unless retention has deleted it."""
    if tp not in app.consumer.assignment():
        return  # revoked meanwhile; its new owner starts from the committed offset
    start = (await app.consumer.earliest_offsets(tp)).get(tp, 0)
    if start > offset:
        # Nothing can bring these back; waiting for them would stop the partition for good.
        log.error("%s: offsets %d..%d were deleted by retention before they were counted; "
                  "resuming at %d", tp, offset, start - 1, start)  # fmt: skip
        progress.reset(tp.topic, tp.partition, start)
        offset = start
    else:
        log.warning("%s: offset %d was skipped and later ones came; reading from it again", tp, offset)
    await app.consumer.seek(tp, offset)


@app.timer(interval=30.0)
async def expire_windows() -> None:
    if _processor is not None:
        assigned = {tp.partition for tp in app.consumer.assignment() if tp.topic == settings.usage_topic}
        dropped = await state.expire(assigned)
        if dropped:
            log.info("expired %d closed windows from worker state", dropped)
        dedup.expire()  # ids leave by the clock, also while no traffic comes
        forgotten = await spend_records.expire(
            assigned, settings.task_idle_s, lambda b: b in budget_feed.book
        )
        if forgotten:
            log.info("forgot %d idle task tallies and records of deleted budgets", forgotten)


def not_ready() -> list[str]:
    """What the worker still waits for before it processes usage; [] when ready."""
    waiting = []
    # TableManagerT's stubs lack the recovery the manager has; completed is set after the first restore.
    if _assigned_at is not None or not cast(Any, app.tables).recovery.completed.is_set():
        waiting.append("usage partitions are being assigned and their windows restored")
    if not price_feed.ready.is_set():
        waiting.append("the price catalog is loading")
    if not budget_feed.ready.is_set():
        waiting.append("the budgets are loading")
    return waiting


web.register(app, metrics, not_ready)


@app.task
async def log_web_url() -> None:
    url = web.bound_url(app, settings.web_host)
    log.info("worker web: %s (%s)", url, " ".join(web.PAGES))


@app.task
async def log_wire_decoder() -> None:
    # Native where streams._wire_scan was built (cargo at install), else Python: the same answers.
    log.info("wire decoder: %s", wire_columns.DECODER)


@app.timer(interval=5.0)
async def sample_partitions() -> None:
    samples = {}
    for tp in app.consumer.assignment():
        if tp.topic == settings.usage_topic:
            processed = progress.committable(tp.topic, tp.partition)
            if processed is None:
                processed = progress.expected.get((tp.topic, tp.partition))
            samples[tp.partition] = PartitionSample(_end_offset(tp), processed, state.watermark(tp.partition))
    metrics.observe_partitions(samples, time.time())
    await live_spend.mark(samples)  # the budget gate's measure of how fresh spend is


def _end_offset(tp: TP) -> int | None:
    try:
        return cast(int | None, app.consumer.highwater(tp))
    except Exception:  # aiokafka asserts the partition is assigned: revoked meanwhile, no sample
        return None


@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def close_clickhouse(sender: Any, **kwargs: Any) -> None:
    """Close the processor's ClickHouse clients: Faust sends this once its streams are empty, so no
    batch is in flight; left open, their sessions were reported at every stop ("Unclosed client
    session", at ERROR) as the loop closed."""
    while _clickhouse:
        await _clickhouse.pop().close()


@app.on_rebalance_complete.connect  # type: ignore[arg-type]
async def restored(sender: Any, **kwargs: Any) -> None:
    global _assigned_at
    if _assigned_at is not None:
        metrics.restore_seconds.set(time.monotonic() - _assigned_at)
        _assigned_at = None


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def forget_revoked(sender: Any, revoked: set[TP], **kwargs: Any) -> None:
    dedup.forget(tp.partition for tp in revoked if tp.topic == settings.usage_topic)
    state.forget_index()


@app.on_partitions_assigned.connect  # type: ignore[arg-type]
async def reindex_assigned(sender: Any, assigned: set[TP], **kwargs: Any) -> None:
    global _assigned_at
    _assigned_at = time.monotonic()
    # Rebuilt from ClickHouse before the partition's next batch: another worker may have counted meanwhile.
    dedup.forget(tp.partition for tp in assigned if tp.topic == settings.usage_topic)
    state.forget_index()
