"""The worker's metrics follow the batch stats it logs, and its partitions as sampled."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from clickhouse_connect.driver import exceptions as ch

from schemas.dead_letters import DeadLetter, DeadLetterCode
from streams.aggregation import WindowAggregate, WindowKey
from streams.metrics import PartitionSample, WorkerMetrics
from streams.processor import BatchStats
from streams.sinks.errors import RejectedRowsError, SinkConfigError, TransientSinkError
from streams.window_batch import EventColumns
from tests.factories import batch, processor, sms
from tests.fakes import DictState, FakeSink


def value(metrics: WorkerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(f"costline_worker_{name}", labels)


def test_a_batchs_stats_are_added_to_the_counters() -> None:
    metrics = WorkerMetrics()
    stats = BatchStats(messages=10, counted=7, replayed=1, duplicates=2, dedup_checked=3, dead_letters=2)
    stats.windows_written, stats.unstorable, stats.seconds, stats.sink_seconds = 5, 1, 0.02, 0.015
    stats.dead_letter_codes = Counter({DeadLetterCode.MALFORMED_JSON: 1, DeadLetterCode.UNSTORABLE: 1})

    metrics.observe_batch(stats)
    metrics.observe_batch(stats)

    assert value(metrics, "messages_total") == 20
    assert value(metrics, "events_total") == 2 * (7 + 1 + 2 + 2)
    assert value(metrics, "events_counted_total") == 14
    assert value(metrics, "events_replayed_total") == 2
    assert value(metrics, "duplicates_total") == 4
    assert value(metrics, "dedup_lookups_total") == 6
    assert value(metrics, "windows_written_total") == 10
    assert value(metrics, "dead_letters_total", code="malformed_json") == 2
    assert value(metrics, "dead_letters_total", code="unstorable") == 2
    assert value(metrics, "batch_seconds_count") == 2
    assert value(metrics, "batch_seconds_sum") == 0.04
    assert value(metrics, "batch_clickhouse_seconds_sum") == 0.03


def test_every_dead_letter_code_and_error_kind_is_exported_before_it_first_happens() -> None:
    metrics = WorkerMetrics()

    for code in DeadLetterCode:
        assert value(metrics, "dead_letters_total", code=code.value) == 0
    for kind in ("transient", "rejected_rows", "config"):
        assert value(metrics, "clickhouse_errors_total", kind=kind) == 0
    assert value(metrics, "clickhouse_retries_total", kind="rejected_rows") is None  # never retried


def test_clickhouse_errors_count_by_kind_and_the_retried_kinds_count_as_retries() -> None:
    metrics = WorkerMetrics()

    metrics.observe_sink_error(TransientSinkError("connection refused"))
    metrics.observe_sink_error(SinkConfigError("UNKNOWN_TABLE"))
    metrics.observe_sink_error(RejectedRowsError("DECIMAL_OVERFLOW"))

    for kind in ("transient", "config", "rejected_rows"):
        assert value(metrics, "clickhouse_errors_total", kind=kind) == 1
    assert value(metrics, "clickhouse_retries_total", kind="transient") == 1
    assert value(metrics, "clickhouse_retries_total", kind="config") == 1


class FailingOnce(FakeSink):
    """ClickHouse away for the first write."""

    failed = False

    async def write(
        self,
        counted: Sequence[Any],
        windows: Mapping[WindowKey, WindowAggregate],
        dead_letters: Sequence[Sequence[Any]] = (),
        *,
        columns: EventColumns | None = None,
        meanwhile: Callable[[], object] | None = None,
    ) -> None:
        if not self.failed:
            self.failed = True
            raise ch.OperationalError("Network Error: Cannot connect to host")
        await super().write(counted, windows, dead_letters, columns=columns)


async def test_a_processed_batch_feeds_the_metrics_its_dead_letters_by_code_and_its_retries() -> None:
    metrics = WorkerMetrics()
    letters: list[DeadLetter] = []
    p = processor(FailingOnce(), DictState(), letters)
    p.retry_delay_s = 0.001
    p.on_sink_error = metrics.observe_sink_error

    stats = await p.process(batch([sms("a"), b"{not json", sms("b"), sms("a"), b"[]"]))
    metrics.observe_batch(stats)

    assert stats.dead_letter_codes == Counter(letter.code for letter in letters)
    assert value(metrics, "events_counted_total") == 2
    assert value(metrics, "duplicates_total") == 1
    assert value(metrics, "dead_letters_total", code="malformed_json") == 1
    assert value(metrics, "dead_letters_total", code="empty_message") == 1
    assert value(metrics, "events_total") == 5
    assert value(metrics, "clickhouse_retries_total", kind="transient") == 1


def test_lag_progress_and_watermark_delay_are_per_assigned_partition() -> None:
    metrics = WorkerMetrics()

    metrics.observe_partitions(
        {
            0: PartitionSample(end_offset=120, processed=100, watermark_s=1_000),
            1: PartitionSample(None, 7, 0),
        },
        now_s=1_090.0,
    )
    assert value(metrics, "consumer_lag", partition="0") == 20
    assert value(metrics, "processed_offset", partition="0") == 100
    assert value(metrics, "watermark_delay_seconds", partition="0") == 90
    assert value(metrics, "processed_offset", partition="1") == 7
    assert value(metrics, "consumer_lag", partition="1") is None  # no end offset fetched yet
    assert value(metrics, "watermark_delay_seconds", partition="1") is None  # nothing counted yet

    metrics.observe_partitions({1: PartitionSample(9, 9, 1_000)}, now_s=1_100.0)  # 0 was revoked
    assert value(metrics, "consumer_lag", partition="0") is None
    assert value(metrics, "processed_offset", partition="0") is None
    assert value(metrics, "consumer_lag", partition="1") == 0


def test_ready_is_read_at_each_scrape_from_the_readiness_check() -> None:
    metrics = WorkerMetrics()
    waiting = ["the price catalog is loading"]
    metrics.track_readiness(lambda: waiting)

    assert value(metrics, "ready") == 0
    waiting.clear()
    assert value(metrics, "ready") == 1
    assert b"costline_worker_ready 1.0" in metrics.exposition()
