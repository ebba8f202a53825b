"""Publish usage events to Kafka: the small producer SDK.

Events are keyed by ``customer_id`` (so a customer's events share a
partition, in order) and batched per customer into JSON arrays, with the
idempotent producer and ``acks=all``, so a retried send is never written
twice by the broker. Retries by the caller
may still publish an event twice; the worker drops the repeat by
``event_id``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from types import TracebackType

import orjson
from aiokafka import AIOKafkaProducer

from schemas.events import UsageEvent, dump_event

# Kafka's default message.max.bytes is 1 MiB; stay well under it.
MAX_MESSAGE_BYTES = 512 * 1024


def customer_key(raw: bytes) -> bytes | None:
    """The key for a raw JSON event: its customer_id, if it has one."""
    try:
        customer = orjson.loads(raw).get("customer_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return str(customer).encode() if customer is not None else None


class UsagePublisher:
    """Publishes events keyed by customer, batching each customer's events.

    Up to ``max_events`` events of one customer travel as one Kafka message
    (a JSON array); a batch is sent when full or ``linger_s`` after its first
    event, and on :meth:`flush`. ``max_events=1`` sends plain one-event
    messages, as any Kafka client may.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = "costline.usage",
        max_events: int = 500,
        linger_s: float = 0.05,
    ) -> None:
        self.topic = topic
        self.max_events = max_events
        self.linger_s = linger_s
        self._pending: dict[str, list[bytes]] = {}
        self._pending_bytes: dict[str, int] = {}
        self._linger: asyncio.Task[None] | None = None
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            max_batch_size=1024 * 1024,
            max_request_size=2 * MAX_MESSAGE_BYTES,
        )

    async def __aenter__(self) -> UsagePublisher:
        await self._producer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.flush()
        finally:
            if self._linger is not None:
                self._linger.cancel()
            await self._producer.stop()

    async def publish(self, event: UsageEvent) -> None:
        value = dump_event(event)
        if self.max_events <= 1:
            await self.publish_raw(event.customer_id.encode(), value)
            return
        customer = event.customer_id
        batch = self._pending.setdefault(customer, [])
        batch.append(value)
        size = self._pending_bytes.get(customer, 0) + len(value) + 1
        self._pending_bytes[customer] = size
        if len(batch) >= self.max_events or size >= MAX_MESSAGE_BYTES:
            await self._send(customer)
        elif self._linger is None or self._linger.done():
            self._linger = asyncio.create_task(self._send_after_linger())

    async def publish_raw(self, key: bytes | None, value: bytes) -> None:
        """Send without validating: the worker dead-letters what is wrong."""
        await self._producer.send(self.topic, value=value, key=key)

    async def publish_many(self, events: Iterable[UsageEvent]) -> int:
        count = 0
        for event in events:
            await self.publish(event)
            count += 1
        await self.flush()
        return count

    async def flush(self) -> None:
        for customer in list(self._pending):
            await self._send(customer)
        await self._producer.flush()

    async def _send(self, customer: str) -> None:
        batch = self._pending.pop(customer, [])
        self._pending_bytes.pop(customer, None)
        if batch:
            await self.publish_raw(customer.encode(), b"[" + b",".join(batch) + b"]")

    async def _send_after_linger(self) -> None:
        await asyncio.sleep(self.linger_s)
        for customer in list(self._pending):
            await self._send(customer)
