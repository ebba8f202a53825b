"""Accepted events to the usage topic, answered only once Kafka has them.

Messages are what the SDK sends (``costline.publisher``): a JSON array of
one customer's events, keyed by customer_id, under ``MAX_MESSAGE_BYTES``.
The producer is idempotent with ``acks=all``, so a broker-side retry is
never written twice; a request retried by its client may be, and the
worker counts an ``event_id`` once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

from aiokafka import AIOKafkaProducer

from costline.publisher import MAX_MESSAGE_BYTES
from schemas.events import UsageEvent, dump_event


class ProduceFailed(RuntimeError):
    """Kafka did not acknowledge every message of a batch: answer 503, the client retries."""


class Overloaded(RuntimeError):
    """More events in flight than the service takes: answer 429 with ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many events in flight; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class InflightEvents:
    """A bound on the events being handled at once, so a burst is refused rather than queued."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    def enter(self, events: int) -> None:
        # One request bigger than the limit is still let in alone.
        if self.count and self.count + events > self.limit:
            raise Overloaded(retry_after_s=1)
        self.count += events

    def leave(self, events: int) -> None:
        self.count -= events


def messages(events: list[UsageEvent]) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) per customer, each value a JSON array under MAX_MESSAGE_BYTES."""
    by_customer: dict[str, list[bytes]] = {}
    for event in events:
        by_customer.setdefault(event.customer_id, []).append(dump_event(event))
    for customer, values in by_customer.items():
        chunk: list[bytes] = []
        size = 2
        for value in values:
            if chunk and size + len(value) + 1 > MAX_MESSAGE_BYTES:
                yield customer.encode(), b"[" + b",".join(chunk) + b"]"
                chunk, size = [], 2
            chunk.append(value)
            size += len(value) + 1
        yield customer.encode(), b"[" + b",".join(chunk) + b"]"


class EventProducer:
    def __init__(
        self, bootstrap: str, topic: str, timeout_s: float, security: Mapping[str, Any] | None = None
    ) -> None:
        self.bootstrap = bootstrap
        # costline.kafka_auth.client_security: TLS and SASL arguments, secrets included.
        self._security = dict(security or {})
        self.topic = topic
        self.timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        # Made here, not in __init__: aiokafka binds its producer to the running loop.
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=2,  # concurrent requests' messages share a produce request
            request_timeout_ms=int(self.timeout_s * 1000),
            **self._security,
        )
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def produce(self, events: list[UsageEvent]) -> None:
        """Returns once Kafka has acknowledged every event; raises ProduceFailed otherwise."""
        producer = self._producer
        if producer is None:
            raise ProduceFailed("the Kafka producer is not started")
        try:
            async with asyncio.timeout(self.timeout_s):
                pending: list[asyncio.Future[Any]] = [
                    await producer.send(self.topic, value=value, key=key) for key, value in messages(events)
                ]
                await asyncio.gather(*pending)
        except TimeoutError:
            raise ProduceFailed(f"Kafka did not acknowledge within {self.timeout_s:g} s") from None
        except Exception as exc:
            raise ProduceFailed(f"Kafka refused the batch: {type(exc).__name__}") from exc
