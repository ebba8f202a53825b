"""What goes to Kafka: the SDK's messages, and a bound on events in flight."""

from __future__ import annotations

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from costline.api.batches import check_events, read_batch
from costline.api.producing import InflightEvents, Overloaded, Partitions, messages
from costline.publisher import MAX_MESSAGE_BYTES
from schemas.events import parse_event
from tests.factories import event


def test_events_travel_as_one_array_per_customer_keyed_by_customer() -> None:
    sent = list(messages([event("sms-1"), event("sms-2", customer="globex"), event("sms-3")]))
    assert [(key, [e["event_id"] for e in orjson.loads(value)]) for key, value in sent] == [
        (b"acme", ["sms-1", "sms-3"]),
        (b"globex", ["sms-2"]),
    ]


def test_a_customer_array_is_split_under_the_message_limit() -> None:
    big = [event(f"sms-{n}", attributes={"note": "x" * 1000}) for n in range(1200)]
    sent = list(messages(big))
    assert len(sent) > 1 and all(len(value) <= MAX_MESSAGE_BYTES for _, value in sent)
    assert sum(len(orjson.loads(value)) for _, value in sent) == 1200


def test_beyond_the_bound_a_batch_is_refused_and_the_first_always_goes() -> None:
    inflight = InflightEvents(limit=1000)
    inflight.enter(1500)  # alone: let in
    with pytest.raises(Overloaded) as refused:
        inflight.enter(1)
    assert refused.value.retry_after_s >= 1
    inflight.leave(1500)
    inflight.enter(1000)


def test_an_event_travels_as_its_client_sent_it_numbers_with_their_own_digits() -> None:
    body = b'[{"kind":"compute","event_id":"gpu-1","occurred_at":"2026-11-20T10:00:00+01:00",'
    body += b'"customer_id":"acme","agent_id":"bot","sku":"a100","seconds":1E+3}]'
    items = read_batch(body, 10)
    checked = check_events(items)
    [(key, value)] = messages(checked.accepted, checked.sent)
    assert key == b"acme"
    assert value == body  # not re-serialized: the worker validates these same bytes again
    assert [parse_event(orjson.dumps(e)) for e in orjson.loads(value)] == checked.accepted


def test_a_key_goes_to_the_partition_aiokafka_would_pick() -> None:
    partitions = Partitions()
    all_eight = tuple(range(8))
    for n in range(200):
        key = f"cust-{n:04d}".encode()
        picked = DefaultPartitioner()(key, list(all_eight), list(all_eight))
        assert partitions.of(key, all_eight) == picked == partitions.of(key, all_eight)
    # More partitions: each key is placed again, as the producer would.
    assert partitions.of(b"cust-0007", tuple(range(16))) == DefaultPartitioner()(
        b"cust-0007", list(range(16)), list(range(16))
    )
