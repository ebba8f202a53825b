"""The SDK's buffer: bounded, with backpressure, and every delivery failure reported to the caller.

Kafka is replaced by a producer whose acknowledgements the test gives (or
withholds) by hand; tests/e2e/test_publisher.py runs the real broker.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from costline.publisher import DeliveryError, PublishTimeout, UsagePublisher
from schemas.events import ToolCall, dump_event


class FakeProducer:
    """Keeps every message with its future; the test settles them."""

    def __init__(self, refuse: Exception | None = None) -> None:
        self.sent: list[tuple[bytes | None, bytes, asyncio.Future[Any]]] = []
        self.refuse = refuse
        self.stopped = False
        self.hang_on_stop = False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        if self.hang_on_stop:
            await asyncio.Event().wait()
        self.stopped = True

    async def send(self, topic: str, value: bytes, key: bytes | None) -> asyncio.Future[Any]:
        if self.refuse is not None:
            raise self.refuse
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((key, value, future))
        return future

    def acknowledge(self, count: int | None = None) -> None:
        for _, _, future in [s for s in self.sent if not s[2].done()][:count]:
            future.set_result(None)

    def fail(self, error: Exception) -> None:
        for _, _, future in self.sent:
            if not future.done():
                future.set_exception(error)


def sms(n: int, customer: str = "acme-corp") -> ToolCall:
    return ToolCall(
        kind="tool",
        tool="twilio-sms",
        event_id=f"sms-{n}",
        occurred_at=datetime(2026, 11, 3, 10, tzinfo=UTC),
        customer_id=customer,
        agent_id="support-bot",
    )


def publisher(producer: FakeProducer, **options: Any) -> UsagePublisher:
    options.setdefault("delivery_timeout_s", 30.0)
    return UsagePublisher("127.0.0.1:1", "costline.usage", producer=producer, **options)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_customers_events_travel_as_one_array_keyed_by_the_customer() -> None:
    kafka = FakeProducer()
    async with publisher(kafka, linger_s=60) as sdk:
        for n in range(3):
            await sdk.publish(sms(n, "acme-corp"))
        await sdk.publish(sms(3, "globex"))
        kafka.acknowledge()  # nothing sent yet: the batches linger
        flushing = asyncio.create_task(sdk.flush())
        await settle()
        kafka.acknowledge()
        await flushing
    messages = {key: [e["event_id"] for e in orjson.loads(value)] for key, value, _ in kafka.sent}
    assert messages == {b"acme-corp": ["sms-0", "sms-1", "sms-2"], b"globex": ["sms-3"]}
    assert kafka.stopped


async def test_a_full_buffer_makes_publish_wait_until_kafka_acknowledges() -> None:
    kafka = FakeProducer()
    sdk = publisher(kafka, max_events=1, max_buffered_events=2)
    await sdk.publish(sms(1))
    await sdk.publish(sms(2))
    third = asyncio.create_task(sdk.publish(sms(3)))
    await settle()
    assert not third.done()  # backpressure: two events unacknowledged, room for two
    assert sdk.buffered[0] == 2

    kafka.acknowledge(1)
    await third
    assert sdk.buffered[0] == 2
    assert [orjson.loads(value)["event_id"] for _, value, _ in kafka.sent] == ["sms-1", "sms-2", "sms-3"]


async def test_the_buffer_is_bounded_in_bytes_too() -> None:
    kafka = FakeProducer()
    size = len(dump_event(sms(1)))
    sdk = publisher(kafka, max_events=1, max_buffered_bytes=size + 10)
    await sdk.publish(sms(1))
    second = asyncio.create_task(sdk.publish(sms(2)))
    await settle()
    assert not second.done()
    kafka.acknowledge()
    await second


async def test_waiting_batches_are_sent_rather_than_left_to_hold_the_buffer() -> None:
    kafka = FakeProducer()
    sdk = publisher(kafka, max_events=500, linger_s=60, max_buffered_events=2)
    await sdk.publish(sms(1))
    await sdk.publish(sms(2))
    third = asyncio.create_task(sdk.publish(sms(3)))
    await settle()
    assert len(kafka.sent) == 1  # the lingering batch went out to make room
    kafka.acknowledge()
    await third


async def test_publish_gives_up_with_publish_timeout_when_nothing_is_acknowledged() -> None:
    kafka = FakeProducer()
    sdk = publisher(kafka, max_events=1, max_buffered_events=1, delivery_timeout_s=0.05)
    await sdk.publish(sms(1))
    with pytest.raises(DeliveryError, match="not acknowledged"):
        await sdk.publish(sms(2))  # sms-1 went overdue while sms-2 waited for room
    with pytest.raises(PublishTimeout, match="buffer is full"):
        await sdk.publish(sms(2))  # Kafka's client still holds sms-1: still no room
    # The event that was refused room was never handed to Kafka.
    assert [orjson.loads(value)["event_id"] for _, value, _ in kafka.sent] == ["sms-1"]


async def test_a_refused_message_is_a_delivery_error_naming_how_many_events_and_why() -> None:
    kafka = FakeProducer()
    sdk = publisher(kafka, linger_s=60)
    for n in range(3):
        await sdk.publish(sms(n))
    flushing = asyncio.create_task(sdk.flush())
    await settle()
    kafka.fail(RuntimeError("MessageSizeTooLargeError"))
    with pytest.raises(DeliveryError) as refused:
        await flushing
    assert refused.value.failed == 3
    assert "3 event(s) not delivered to costline.usage" in str(refused.value)
    assert "MessageSizeTooLargeError" in str(refused.value)
    assert sdk.buffered == (0, 0)


async def test_a_failure_is_reported_once_and_publish_reports_it_before_taking_more() -> None:
    kafka = FakeProducer()
    sdk = publisher(kafka, max_events=1)
    await sdk.publish(sms(1))
    kafka.fail(ConnectionError("broker went away"))
    await settle()
    with pytest.raises(DeliveryError, match="1 event"):
        await sdk.publish(sms(2))
    assert len(kafka.sent) == 1  # sms-2 was not taken
    await sdk.publish(sms(2))  # reported once: the caller may go on
    kafka.acknowledge()
    await sdk.flush()


async def test_a_producer_that_refuses_at_once_is_a_delivery_error_too() -> None:
    sdk = publisher(FakeProducer(refuse=RuntimeError("KafkaTimeoutError")), max_events=1)
    await sdk.publish(sms(1))
    with pytest.raises(DeliveryError, match="KafkaTimeoutError"):
        await sdk.flush()
    assert sdk.buffered == (0, 0)


async def test_flush_raises_publish_timeout_when_kafka_does_not_answer_in_time() -> None:
    kafka = FakeProducer()
    sdk = publisher(kafka, max_events=1)
    await sdk.publish(sms(1))
    with pytest.raises(PublishTimeout, match="1 event") as late:
        await sdk.flush(timeout=0.05)
    assert late.value.events == 1
    kafka.acknowledge()  # a late acknowledgement still frees the buffer
    await settle()
    assert sdk.buffered == (0, 0)
    await sdk.flush()


async def test_a_message_not_acknowledged_within_the_delivery_timeout_is_a_failure() -> None:
    kafka = FakeProducer()
    sdk = publisher(kafka, max_events=1, delivery_timeout_s=0.05)
    await sdk.publish(sms(1))
    with pytest.raises(DeliveryError, match=r"not acknowledged within 0\.05 s"):
        await sdk.flush()
    assert sdk.buffered[0] == 1  # Kafka's client still holds it, so it still counts
    kafka.fail(ConnectionError("gave up"))  # settling later is not a second report
    await settle()
    assert sdk.buffered == (0, 0)
    await sdk.flush()


async def test_leaving_the_block_ends_even_when_the_producer_cannot_stop() -> None:
    kafka = FakeProducer()
    kafka.hang_on_stop = True
    with pytest.raises(DeliveryError):
        async with publisher(kafka, max_events=1, delivery_timeout_s=0.05) as sdk:
            await sdk.publish(sms(1))


async def test_an_error_in_the_block_is_not_hidden_by_undelivered_events() -> None:
    kafka = FakeProducer(refuse=RuntimeError("refused"))
    with pytest.raises(KeyError):
        async with publisher(kafka, max_events=1) as sdk:
            await sdk.publish(sms(1))
            raise KeyError("the caller's own error")
