"""Publish usage events to Kafka: the small producer SDK.

Events are keyed by ``customer_id`` (so a customer's events share a
partition, in order) with the idempotent producer and ``acks=all``, so a
retried send is never written twice by the broker. Retries by the caller
may still publish an event twice; the worker drops the repeat by
``event_id``.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

import orjson
from aiokafka import AIOKafkaProducer

from schemas.events import UsageEvent, dump_event


def customer_key(raw: bytes) -> bytes | None:
    """The key for a raw JSON event: its customer_id, if it has one."""
    try:
        customer = orjson.loads(raw).get("customer_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return str(customer).encode() if customer is not None else None


class UsagePublisher:
    def __init__(self, bootstrap_servers: str, topic: str = "costline.usage") -> None:
        self.topic = topic
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            max_batch_size=256 * 1024,
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
        await self._producer.stop()

    async def publish(self, event: UsageEvent) -> None:
        await self.publish_raw(event.customer_id.encode(), dump_event(event))

    async def publish_raw(self, key: bytes | None, value: bytes) -> None:
        """Send without validating: the worker dead-letters what is wrong."""
        await self._producer.send(self.topic, value=value, key=key)

    async def publish_many(self, events: Iterable[UsageEvent]) -> int:
        count = 0
        for event in events:
            await self.publish(event)
            count += 1
        await self._producer.flush()
        return count

    async def flush(self) -> None:
        await self._producer.flush()
