"""The API's Prometheus metrics, in a registry of its own (one per app, so tests do not share counts).

Under ``costline api --workers N`` each process writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode, set by
``costline.api.server``), and /metrics, whichever process answers it, sums
every process's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from costline.api.batches import Outcome
from costline.api.otlp import SpanOutcome

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

# Seconds; a batch of 1,000 is expected well under 100 ms on loopback.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class ApiMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "costline_api_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "costline_api_request_duration_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.events = Counter("costline_api_events", "Events by result", ["result"], registry=self.registry)
        for outcome in Outcome:
            self.events.labels(outcome.value)  # every result shows, at 0 until it happens
        self.otlp_spans = Counter(
            "costline_api_otlp_spans",
            "OTLP spans by result (ignored: no GenAI usage; rejected: in the partial success)",
            ["result"],
            registry=self.registry,
        )
        for span_outcome in SpanOutcome:
            self.otlp_spans.labels(span_outcome.value)
        self.gate_decisions = Counter(
            "costline_api_gate_decisions",
            "Budget gate checks answered, allowed or denied",
            ["decision"],
            registry=self.registry,
        )
        for decision in ("allowed", "denied"):
            self.gate_decisions.labels(decision)
        self.produce_errors = Counter(
            "costline_api_kafka_produce_errors",
            "Batches Kafka did not acknowledge (answered 503)",
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        shared = os.environ.get(MULTIPROCESS_DIR)
        if not shared:
            return generate_latest(self.registry)
        every_process = CollectorRegistry()
        MultiProcessCollector(every_process, path=shared)  # type: ignore[no-untyped-call]
        return generate_latest(every_process)
