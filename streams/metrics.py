"""The worker's Prometheus metrics, fed per batch and per sample, never per event.

Batch counts come from the same :class:`~streams.processor.BatchStats` the
agent logs, so the log line and the counters cannot disagree. Per-partition
gauges (lag, progress, watermark delay) are sampled on a timer from the
worker's own offset books (:mod:`streams.offset_commits`), not computed in
the hot path. Labels derive from the one declaration of each enumeration:
:class:`~schemas.dead_letters.DeadLetterCode` and the kinds of
:class:`~streams.sinks.errors.SinkError`. docs/metrics.md lists them all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from schemas.dead_letters import DeadLetterCode
from streams.processor import BatchStats
from streams.sinks.errors import RejectedRowsError, SinkError

PREFIX = "costline_worker_"
SINK_ERROR_KINDS = tuple(cls.kind for cls in SinkError.__subclasses__())
# Rows refused for good are isolated and dead-lettered; every other kind is retried.
RETRIED_KINDS = tuple(kind for kind in SINK_ERROR_KINDS if kind != RejectedRowsError.kind)
# A batch takes milliseconds; ClickHouse being away makes it take minutes.
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# The text format every Prometheus release scrapes; generate_latest writes it by default.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


@dataclass(frozen=True, slots=True)
class PartitionSample:
    """One usage partition as the worker sees it at a sampling instant."""

    end_offset: int | None  # the broker's high watermark as of the last fetch
    processed: int | None  # the offset after the last one durably processed
    watermark_s: int  # the highest occurred_at counted, epoch seconds; 0: none yet


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.messages = Counter(f"{PREFIX}messages", "Usage messages processed", registry=r)
        self.events = Counter(
            f"{PREFIX}events", "Events in: counted, replayed, duplicates and dead letters", registry=r
        )
        self.counted = Counter(f"{PREFIX}events_counted", "Events counted into windows", registry=r)
        self.replayed = Counter(
            f"{PREFIX}events_replayed", "Events a replay had already folded (skipped)", registry=r
        )
        self.duplicates = Counter(
            f"{PREFIX}duplicates", "Events dropped as repeats of a counted event_id", registry=r
        )
        self.dead_letters = Counter(
            f"{PREFIX}dead_letters", "Events dead-lettered, by code", ["code"], registry=r
        )
        self.dedup_lookups = Counter(
            f"{PREFIX}dedup_lookups", "Event ids looked up in ClickHouse's event_ids", registry=r
        )
        self.windows_written = Counter(f"{PREFIX}windows_written", "Window snapshots written", registry=r)
        self.batch_seconds = Histogram(
            f"{PREFIX}batch_seconds", "Time to process a batch", buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_clickhouse_seconds = Histogram(
            f"{PREFIX}batch_clickhouse_seconds",
            "Of a batch's time, the ClickHouse writes (retries included)",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.clickhouse_errors = Counter(
            f"{PREFIX}clickhouse_errors", "Failed ClickHouse calls, by kind", ["kind"], registry=r
        )
        self.clickhouse_retries = Counter(
            f"{PREFIX}clickhouse_retries", "ClickHouse calls retried, by kind", ["kind"], registry=r
        )
        self.lag = Gauge(f"{PREFIX}consumer_lag", "Messages not yet processed", ["partition"], registry=r)
        self.processed_offset = Gauge(
            f"{PREFIX}processed_offset", "The offset after the last one processed", ["partition"], registry=r
        )
        self.watermark_delay = Gauge(
            f"{PREFIX}watermark_delay_seconds",
            "Now minus the highest occurred_at counted",
            ["partition"],
            registry=r,
        )
        self.restore_seconds = Gauge(
            f"{PREFIX}restore_seconds", "How long the last assignment took to restore", registry=r
        )
        self.ready = Gauge(f"{PREFIX}ready", "1 when /readyz answers 200", registry=r)
        # Every label value from the start, so rate() and alerts see a 0 before the first increment.
        for code in DeadLetterCode:
            self.dead_letters.labels(code=code.value)
        for kind in SINK_ERROR_KINDS:
            self.clickhouse_errors.labels(kind=kind)
        for kind in RETRIED_KINDS:
            self.clickhouse_retries.labels(kind=kind)
        self._partitions: set[str] = set()

    def observe_batch(self, stats: BatchStats) -> None:
        self.messages.inc(stats.messages)
        self.events.inc(stats.counted + stats.replayed + stats.duplicates + stats.dead_letters)
        self.counted.inc(stats.counted)
        self.replayed.inc(stats.replayed)
        self.duplicates.inc(stats.duplicates)
        self.dedup_lookups.inc(stats.dedup_checked)
        self.windows_written.inc(stats.windows_written)
        for code, count in stats.dead_letter_codes.items():
            self.dead_letters.labels(code=code.value).inc(count)
        self.batch_seconds.observe(stats.seconds)
        self.batch_clickhouse_seconds.observe(stats.sink_seconds)

    def observe_sink_error(self, error: SinkError) -> None:
        self.clickhouse_errors.labels(kind=error.kind).inc()
        if error.kind in RETRIED_KINDS:
            self.clickhouse_retries.labels(kind=error.kind).inc()

    def observe_partitions(self, samples: Mapping[int, PartitionSample], now_s: float) -> None:
        """The assigned partitions' gauges; partitions no longer assigned leave the exposition."""
        seen = set()
        for partition, sample in samples.items():
            label = str(partition)
            seen.add(label)
            if sample.processed is not None:
                self.processed_offset.labels(partition=label).set(sample.processed)
                if sample.end_offset is not None:
                    self.lag.labels(partition=label).set(max(0, sample.end_offset - sample.processed))
            if sample.watermark_s:
                self.watermark_delay.labels(partition=label).set(max(0.0, now_s - sample.watermark_s))
        for label in self._partitions - seen:
            for gauge in (self.lag, self.processed_offset, self.watermark_delay):
                with contextlib.suppress(KeyError):  # never set for this partition
                    gauge.remove(label)
        self._partitions = seen

    def track_readiness(self, missing: Callable[[], list[str]]) -> None:
        """``ready`` is computed at each scrape from the same check as /readyz."""
        self.ready.set_function(lambda: 0.0 if missing() else 1.0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
