"""The SDK against the real broker: it delivers, and when it cannot it says so within its timeout."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from costline import cli
from costline.cli_errors import EXIT_UNAVAILABLE
from costline.config import Settings, get_settings
from costline.kafka import ensure_topics, topic_partitions
from costline.publisher import MAX_MESSAGE_BYTES, DeliveryError, KafkaUnavailable, UsagePublisher
from tests.factories import event

SENT_AT = datetime(2026, 11, 3, 10, tzinfo=UTC)  # a text message from a customer's support bot


@pytest.fixture
def topic(services: Settings) -> str:
    run = f"costline-test-publisher-{secrets.token_hex(4)}"
    names = {
        "usage_topic": f"{run}.usage",
        "prices_topic": f"{run}.prices",
        "dead_letter_topic": f"{run}.dlq",
    }
    asyncio.run(ensure_topics(services.model_copy(update=names)))
    return names["usage_topic"]


async def read_all(settings: Settings, topic: str) -> list[tuple[bytes, bytes]]:
    partitions = await topic_partitions(settings, topic)
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        messages: list[tuple[bytes, bytes]] = []
        while sum(ends.values()) > len(messages):
            batch = await consumer.getmany(timeout_ms=1000)
            messages += [(m.key, m.value) for records in batch.values() for m in records]
        return messages
    finally:
        await consumer.stop()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that takes connections and never answers, like a hung broker."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_running_broker_gets_every_event_and_flush_returns(services: Settings, topic: str) -> None:
    async with UsagePublisher(services.kafka_bootstrap, topic, delivery_timeout_s=30) as sdk:
        for n in range(1_200):
            await sdk.publish(event(f"sms-{n}", customer=["acme-corp", "globex"][n % 2], at=SENT_AT))
        await sdk.flush()
        assert sdk.buffered == (0, 0)

    messages = await read_all(services, topic)
    events = [(key, event["event_id"]) for key, value in messages for event in orjson.loads(value)]
    assert len(events) == 1_200
    assert {key for key, _ in events} == {b"acme-corp", b"globex"}
    assert all(int(event_id.split("-")[1]) % 2 == (key == b"globex") for key, event_id in events)


async def test_a_port_where_no_broker_listens_fails_at_once() -> None:
    port = closed_port()
    with pytest.raises(KafkaUnavailable, match=f"127.0.0.1:{port}"):
        async with UsagePublisher(f"127.0.0.1:{port}", "costline.usage", delivery_timeout_s=5):
            pass


async def test_a_broker_that_never_answers_fails_within_the_timeout(silent_port: int) -> None:
    with pytest.raises(KafkaUnavailable, match="no answer"):
        async with UsagePublisher(f"127.0.0.1:{silent_port}", "costline.usage", delivery_timeout_s=0.5):
            pass


async def test_a_message_kafka_refuses_is_reported_with_its_reason(services: Settings, topic: str) -> None:
    huge = b'{"kind": "tool", "attributes": {"blob": "' + b"x" * (4 * MAX_MESSAGE_BYTES) + b'"}}'
    async with UsagePublisher(services.kafka_bootstrap, topic, delivery_timeout_s=30) as sdk:
        await sdk.publish(event("sms-1", customer="acme-corp", at=SENT_AT))
        await sdk.publish_raw(b"acme-corp", huge)
        with pytest.raises(DeliveryError, match="MessageSizeTooLarge") as refused:
            await sdk.flush()
        assert refused.value.failed == 1
        await sdk.flush()  # reported once; the good event was delivered

    messages = await read_all(services, topic)
    assert [orjson.loads(value)[0]["event_id"] for _, value in messages] == ["sms-1"]


def test_the_publish_command_reports_an_unreachable_broker_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(event("sms-1", customer="acme-corp", at=SENT_AT).model_dump_json().encode() + b"\n")
    monkeypatch.setenv("COSTLINE_KAFKA_BOOTSTRAP", f"127.0.0.1:{closed_port()}")
    get_settings.cache_clear()
    try:
        status = cli.main(["publish", str(events)])
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert status == EXIT_UNAVAILABLE
    assert err.count("\n") == 1 and "cannot reach Kafka" in err and "Traceback" not in err
