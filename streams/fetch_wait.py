"""How long the worker's consumer lets the broker hold a fetch that has nothing to return.

Faust builds the worker's consumer with ``fetch_max_wait_ms=1500`` and no
setting to change it. A broker answers one connection's requests in order, so
every offset lookup Faust's recovery makes on the fetch's connection (the
highwaters, then the earliest offsets of the changelogs) waits behind a fetch
the broker holds for want of data: each start and restart spent 1.5-2.5 s
there, with the tables already restored. A fetch that finds data is answered at
once whatever the wait, so a shorter one costs only an idle worker a few
empty fetches a second.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

FETCH_WAIT_MS = 100


def install(wait_ms: int = FETCH_WAIT_MS) -> None:
    """Give the worker's consumer ``wait_ms`` instead of Faust's 1500 ms; idempotent."""
    create = AIOKafkaConsumerThread._create_worker_consumer
    original = getattr(create, "__wrapped__", create)

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        # aiokafka hands this to the fetcher it builds in start(); the consumer is not started yet.
        consumer._fetch_max_wait_ms = wait_ms
        return consumer

    _create_worker_consumer.__wrapped__ = original  # type: ignore[attr-defined]
    AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]
