"""The worker's consumer lets the broker hold an empty fetch 100 ms, not Faust's 1.5 s."""

from __future__ import annotations

import asyncio
from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from streams import fetch_wait


def _built_fetch_wait_ms() -> int:
    """The fetch wait of the consumer Faust would build for the worker now (never started)."""
    from streams.app import app

    async def build() -> int:
        consumer: Any = app.consumer
        thread = consumer._thread
        return int(thread._create_worker_consumer(app.transport)._fetch_max_wait_ms)

    return asyncio.run(build())


def test_the_worker_consumer_is_built_with_the_short_fetch_wait() -> None:
    before = AIOKafkaConsumerThread._create_worker_consumer
    try:
        fetch_wait.install()
        fetch_wait.install()  # twice, as a second worker start in one process would
        assert _built_fetch_wait_ms() == fetch_wait.FETCH_WAIT_MS == 100
    finally:
        AIOKafkaConsumerThread._create_worker_consumer = before  # type: ignore[method-assign]


def test_faust_alone_would_wait_one_and_a_half_seconds() -> None:
    assert _built_fetch_wait_ms() == 1500
