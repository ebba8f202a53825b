"""Accepted events to the usage topic, answered only once Kafka has them.

Messages are what the SDK sends (``costline.publisher``): a JSON array of
one customer's events, keyed by customer_id, under ``MAX_MESSAGE_BYTES``.
An event the API validated travels as the client sent it (its parsed JSON,
numbers with their own digits): the worker validates it again with the same
contract, so a second serialization through the model would only cost time.
The producer is idempotent with ``acks=all``, so a broker-side retry is
never written twice; a request retried by its client may be, and the
worker counts an ``event_id`` once.

A request's messages go to Kafka as one record batch per partition
(``send_batch``), partitioned as ``send`` would (the default partitioner on
the key): per message, ``send`` cost ~4 times the CPU, and a batch of 500
events holds ~150 customers' messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from costline.publisher import MAX_MESSAGE_BYTES
from schemas.events import UsageEvent, dump_event

# The broker takes a produce request of up to 1 MiB by default; a message may be 512 KiB.
MAX_BATCH_BYTES = 1024 * 1024


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


def messages(events: list[UsageEvent], sent: Sequence[Any] | None = None) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) per customer, each value a JSON array under MAX_MESSAGE_BYTES.

    ``sent``, when given, holds each event as its client sent it (parsed JSON,
    in the order of ``events``), and that form is what goes.
    """
    by_customer: dict[str, list[bytes]] = {}
    for index, event in enumerate(events):
        value = dump_event(event) if sent is None else _as_sent(sent[index], event)
        by_customer.setdefault(event.customer_id, []).append(value)
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


def _as_sent(item: Any, event: UsageEvent) -> bytes:
    try:
        return orjson.dumps(item, default=_number)
    except orjson.JSONEncodeError:  # not JSON's own types: the contract's form instead
        return dump_event(event)


def _number(value: Any) -> orjson.Fragment:
    """A number read as Decimal, written with the digits it came with (``1E+3`` stays one)."""
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value).encode())
    raise TypeError(type(value).__name__)


class Partitions:
    """A key's partition, as aiokafka's default partitioner picks it, remembered per key:
    it hashes in Python, ~5 µs a key, and the same customers come back all the time."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._pick = DefaultPartitioner()
        self._max_keys = max_keys
        self._known: dict[bytes, int] = {}
        self._of: tuple[int, ...] = ()

    def of(self, key: bytes, partitions: tuple[int, ...]) -> int:
        if partitions != self._of or len(self._known) >= self._max_keys:
            self._known, self._of = {}, partitions  # partitions added: every key again
        found = self._known.get(key)
        if found is None:
            found = self._known[key] = int(self._pick(key, list(partitions), list(partitions)))
        return found


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
        self._partitions = Partitions()

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        # Made here, not in __init__: aiokafka binds its producer to the running loop.
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=2,  # concurrent requests' batches share a produce request
            max_batch_size=MAX_BATCH_BYTES,  # a request's messages to a partition in one record batch
            request_timeout_ms=int(self.timeout_s * 1000),
            **self._security,
        )
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def produce(self, events: list[UsageEvent], sent: Sequence[Any] | None = None) -> None:
        """Returns once Kafka has acknowledged every event; raises ProduceFailed otherwise."""
        await self.produce_messages(messages(events, sent))

    async def produce_messages(self, keyed: Iterable[tuple[bytes, bytes]]) -> None:
        producer = self._producer
        if producer is None:
            raise ProduceFailed("the Kafka producer is not started")
        try:
            async with asyncio.timeout(self.timeout_s):
                partitions = tuple(sorted(await producer.partitions_for(self.topic)))
                batches: list[tuple[int, BatchBuilder]] = []
                open_batch: dict[int, BatchBuilder] = {}
                for key, value in keyed:
                    partition = self._partitions.of(key, partitions)
                    batch = open_batch.get(partition)
                    if batch is None or batch.append(key=key, value=value, timestamp=None) is None:
                        # A new partition, or its batch is full: the message opens the next one.
                        batch = open_batch[partition] = producer.create_batch()
                        batch.append(key=key, value=value, timestamp=None)
                        batches.append((partition, batch))
                pending: list[asyncio.Future[Any]] = []
                for partition, batch in batches:  # in order: a partition's batches keep the messages' order
                    batch.close()
                    pending.append(await producer.send_batch(batch, self.topic, partition=partition))
                await asyncio.gather(*pending)
        except TimeoutError:
            raise ProduceFailed(f"Kafka did not acknowledge within {self.timeout_s:g} s") from None
        except Exception as exc:
            raise ProduceFailed(f"Kafka refused the batch: {type(exc).__name__}") from exc
