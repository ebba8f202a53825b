"""Publish usage events to Kafka: the small producer SDK.

Events are keyed by ``customer_id`` (so a customer's events share a
partition, in order) and batched per customer into JSON arrays, with the
idempotent producer and ``acks=all``, so a retried send is never written
twice by the broker. Retries by the caller
may still publish an event twice; the worker drops the repeat by
``event_id``.

The publisher never hangs and never loses an event silently:

- what it holds (batches not sent yet, and messages Kafka has not
  acknowledged) is bounded in events and bytes; ``publish`` waits for room,
  and raises :class:`PublishTimeout` if none frees up within
  ``delivery_timeout_s``;
- a message Kafka refuses, or does not acknowledge within
  ``delivery_timeout_s``, is a delivery failure: the next ``publish`` or
  ``flush`` raises :class:`DeliveryError` with how many events failed and
  why (each failure is reported once);
- ``flush(timeout)`` raises :class:`PublishTimeout` if its events are not
  all acknowledged or failed in time.

A failed event may still have reached Kafka (an acknowledgement can be
lost); publishing it again is safe, since the worker counts an
``event_id`` once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaProducer

from costline.config import Settings
from costline.kafka_auth import client_security
from schemas.events import UsageEvent, dump_event

# Kafka's default message.max.bytes is 1 MiB; stay well under it.
MAX_MESSAGE_BYTES = 512 * 1024
# How much longer than the delivery timeout flush waits by default, and how
# long stop waits once messages are known to be stuck.
FLUSH_GRACE_S = 1.0


class PublishError(Exception):
    """Events could not be published; see the subclasses."""


class KafkaUnavailable(PublishError):
    """The publisher could not connect to Kafka at start."""


class PublishTimeout(PublishError):
    """Kafka did not acknowledge (or refuse) events in time; they may still be delivered or fail."""

    def __init__(self, message: str, events: int) -> None:
        super().__init__(message)
        self.events = events


class DeliveryError(PublishError):
    """Events were not delivered: ``failed`` of them, for ``reasons`` (reason -> events)."""

    def __init__(self, topic: str, failed: int, reasons: Counter[str]) -> None:
        why = "; ".join(f"{count} × {reason}" for reason, count in reasons.most_common())
        super().__init__(
            f"{failed} event(s) not delivered to {topic}: {why} "
            "(publishing them again is safe: the worker counts an event_id once)"
        )
        self.failed = failed
        self.reasons = reasons


class Producer(Protocol):
    """What the publisher needs of a Kafka producer (``AIOKafkaProducer``, or a test's fake)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, topic: str, value: bytes, key: bytes | None) -> asyncio.Future[Any]: ...


def customer_key(raw: bytes) -> bytes | None:
    """The key for a raw JSON event: its customer_id, if it has one."""
    try:
        customer = orjson.loads(raw).get("customer_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return str(customer).encode() if customer is not None else None


@dataclass(eq=False)
class _Flight:
    """A message handed to the producer and not yet settled."""

    events: int
    size: int
    overdue: bool = False  # already reported as failed: not acknowledged in time
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class UsagePublisher:
    """Publishes events keyed by customer, batching each customer's events.

    Up to ``max_events`` events of one customer travel as one Kafka message
    (a JSON array); a batch is sent when full or ``linger_s`` after its first
    event, and on :meth:`flush`. ``max_events=1`` sends plain one-event
    messages, as any Kafka client may.

    At most ``max_buffered_events`` events and ``max_buffered_bytes`` bytes
    are held (unsent or unacknowledged) at a time; a message counts until
    the producer settles it. ``publish_raw`` counts each message as one event.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = "costline.usage",
        max_events: int = 500,
        linger_s: float = 0.05,
        *,
        max_buffered_events: int = 50_000,
        max_buffered_bytes: int = 32 * 1024 * 1024,
        delivery_timeout_s: float = 30.0,
        security: Mapping[str, Any] | None = None,
        producer: Producer | None = None,
    ) -> None:
        if max_buffered_events < 1 or max_buffered_bytes < 1 or delivery_timeout_s <= 0:
            raise ValueError("buffer bounds and the delivery timeout must be positive")
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self.max_events = max_events
        self.linger_s = linger_s
        self.max_buffered_events = max_buffered_events
        self.max_buffered_bytes = max_buffered_bytes
        self.delivery_timeout_s = delivery_timeout_s
        self._pending: dict[str, list[bytes]] = {}
        self._pending_bytes: dict[str, int] = {}
        self._linger: asyncio.Task[None] | None = None
        self._buffered_events = 0
        self._buffered_bytes = 0
        self._inflight: dict[asyncio.Future[Any], _Flight] = {}
        self._failed = 0
        self._reasons: Counter[str] = Counter()
        self._waiters: set[asyncio.Future[None]] = set()
        timeout_ms = int(delivery_timeout_s * 1000)
        self._producer: Producer = producer or AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            max_batch_size=1024 * 1024,
            max_request_size=2 * MAX_MESSAGE_BYTES,
            # Bounds a produce request, a wait for room in the producer, and
            # how long a batch waits for a partition leader before it fails.
            request_timeout_ms=timeout_ms,
            metadata_max_age_ms=min(timeout_ms, 300_000),
            # TLS and SASL arguments of aiokafka (costline.kafka_auth.client_security).
            **(security or {}),
        )

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> UsagePublisher:
        """A publisher to ``settings``' usage topic, with their transport security."""
        options.setdefault("security", client_security(settings))
        return cls(settings.kafka_bootstrap, settings.usage_topic, **options)

    @property
    def buffered(self) -> tuple[int, int]:
        """(events, bytes) held now: unsent, or sent and not yet settled by the producer."""
        return self._buffered_events, self._buffered_bytes

    async def __aenter__(self) -> UsagePublisher:
        try:
            await asyncio.wait_for(self._producer.start(), self.delivery_timeout_s)
        except Exception as exc:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._producer.stop(), self.delivery_timeout_s)
            reason = "no answer" if isinstance(exc, TimeoutError) else _reason(exc)
            raise KafkaUnavailable(f"cannot reach Kafka at {self.bootstrap_servers} ({reason})") from exc
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                await self.flush()
            else:  # best effort: the error already on its way out is the one to report
                with contextlib.suppress(PublishError):
                    await self.flush()
        finally:
            if self._linger is not None:
                self._linger.cancel()
            await self._stop_producer()

    async def publish(self, event: UsageEvent) -> None:
        """Buffer ``event`` (waiting for room); raises :class:`DeliveryError` for earlier failures.

        When it raises, ``event`` was not buffered.
        """
        self._raise_failures()
        value = dump_event(event)
        if self.max_events <= 1:
            await self.publish_raw(event.customer_id.encode(), value)
            return
        size = len(value) + 1
        await self._reserve(1, size)
        customer = event.customer_id
        batch = self._pending.setdefault(customer, [])
        batch.append(value)
        batch_bytes = self._pending_bytes.get(customer, 0) + size
        self._pending_bytes[customer] = batch_bytes
        if len(batch) >= self.max_events or batch_bytes >= MAX_MESSAGE_BYTES:
            await self._send(customer)
        elif self._linger is None or self._linger.done():
            self._linger = asyncio.create_task(self._send_after_linger())

    async def publish_raw(self, key: bytes | None, value: bytes) -> None:
        """Send without validating: the worker dead-letters what is wrong."""
        self._raise_failures()
        await self._reserve(1, len(value))
        await self._hand_over(key, value, 1, len(value))

    async def publish_many(self, events: Iterable[UsageEvent]) -> int:
        count = 0
        for event in events:
            await self.publish(event)
            count += 1
        await self.flush()
        return count

    async def flush(self, timeout: float | None = None) -> None:
        """Send every batch and wait until Kafka has acknowledged or refused each message.

        Raises :class:`PublishTimeout` if that takes longer than ``timeout``
        seconds, and :class:`DeliveryError` if any event was not delivered.
        By default it waits a little longer than ``delivery_timeout_s``, so
        a message Kafka does not answer is reported as a failure, with why.
        """
        timeout = self.delivery_timeout_s + FLUSH_GRACE_S if timeout is None else timeout
        try:
            async with asyncio.timeout(timeout):
                await self._send_all()
                while any(not flight.overdue for flight in self._inflight.values()):
                    await self._changed(None)
        except TimeoutError:
            waiting = sum(f.events for f in self._inflight.values() if not f.overdue)
            waiting += sum(len(batch) for batch in self._pending.values())
            if not waiting:  # every message failed or went overdue just as the time ran out
                self._raise_failures()
            raise PublishTimeout(
                f"{waiting} event(s) to {self.topic} not acknowledged within {timeout:g} s; "
                f"is Kafka at {self.bootstrap_servers} reachable?",
                waiting,
            ) from None
        self._raise_failures()

    async def _stop_producer(self) -> None:
        """Stop the producer, within the delivery timeout whatever the broker does."""
        # aiokafka's stop waits for every batch to settle, and a batch to a
        # broker that never answers never does; those are reported already.
        overdue = any(flight.overdue for flight in self._inflight.values())
        stopping = asyncio.ensure_future(self._producer.stop())
        done, _ = await asyncio.wait(
            {stopping}, timeout=FLUSH_GRACE_S if overdue else self.delivery_timeout_s
        )
        if done:
            stopping.result()
            return
        stopping.cancel()
        # What stop would have done next: end the sender's retries and close the connections.
        for part in (getattr(self._producer, "_sender", None), getattr(self._producer, "client", None)):
            if part is not None:
                with contextlib.suppress(Exception):
                    await part.close()

    async def _reserve(self, events: int, size: int) -> None:
        """Wait until ``events`` and ``size`` fit in the buffer, then count them in."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.delivery_timeout_s
        while not self._fits(events, size):
            # Unsent batches hold room too; send them rather than wait out their linger.
            await self._send_all()
            if self._fits(events, size):
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise PublishTimeout(
                    f"the publish buffer is full ({self._buffered_events} events, "
                    f"{self._buffered_bytes} bytes not acknowledged) and nothing was acknowledged "
                    f"within {self.delivery_timeout_s:g} s; is Kafka at {self.bootstrap_servers} reachable?",
                    self._buffered_events,
                )
            await self._changed(remaining)
            self._raise_failures()
        self._buffered_events += events
        self._buffered_bytes += size

    def _fits(self, events: int, size: int) -> bool:
        if self._buffered_events == 0:
            return True  # a message bigger than the bounds still goes, alone
        return (
            self._buffered_events + events <= self.max_buffered_events
            and self._buffered_bytes + size <= self.max_buffered_bytes
        )

    async def _send_all(self) -> None:
        for customer in list(self._pending):
            await self._send(customer)

    async def _send(self, customer: str) -> None:
        batch = self._pending.pop(customer, [])
        size = self._pending_bytes.pop(customer, 0)
        if batch:
            await self._hand_over(customer.encode(), b"[" + b",".join(batch) + b"]", len(batch), size)

    async def _hand_over(self, key: bytes | None, value: bytes, events: int, size: int) -> None:
        """Give one message to the producer and track it until it settles; ``size`` is reserved."""
        try:
            future = await self._producer.send(self.topic, value=value, key=key)
        except asyncio.CancelledError:
            self._fail(events, "cancelled before the producer took it")
            self._release(events, size)
            raise
        except Exception as exc:
            self._fail(events, _reason(exc))
            self._release(events, size)
            return
        flight = _Flight(events, size)
        self._inflight[future] = flight
        flight.timer = asyncio.get_running_loop().call_later(self.delivery_timeout_s, self._overdue, future)
        future.add_done_callback(self._settled)

    def _overdue(self, future: asyncio.Future[Any]) -> None:
        flight = self._inflight.get(future)
        if flight is None or future.done():
            return
        # Reported now; its room in the buffer is freed only when the producer lets go of it.
        flight.overdue = True
        self._fail(flight.events, f"not acknowledged within {self.delivery_timeout_s:g} s")
        self._wake()

    def _settled(self, future: asyncio.Future[Any]) -> None:
        flight = self._inflight.pop(future, None)
        if flight is None:
            return
        if flight.timer is not None:
            flight.timer.cancel()
        error = "cancelled" if future.cancelled() else future.exception()
        if error is not None and not flight.overdue:
            self._fail(flight.events, error if isinstance(error, str) else _reason(error))
        self._release(flight.events, flight.size)

    def _fail(self, events: int, reason: str) -> None:
        self._failed += events
        self._reasons[reason] += events

    def _release(self, events: int, size: int) -> None:
        self._buffered_events -= events
        self._buffered_bytes -= size
        self._wake()

    def _raise_failures(self) -> None:
        if self._failed:
            error = DeliveryError(self.topic, self._failed, self._reasons)
            self._failed, self._reasons = 0, Counter()
            raise error

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def _changed(self, timeout: float | None) -> None:
        """Wait until a message settles or fails, or ``timeout`` passes."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait({waiter}, timeout=timeout)
        finally:
            self._waiters.discard(waiter)

    async def _send_after_linger(self) -> None:
        await asyncio.sleep(self.linger_s)
        await self._send_all()


def _reason(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return name if not text or text == name else f"{name}: {text.removeprefix(name + ': ')}"
