"""What goes to Kafka: the SDK's messages, and a bound on events in flight."""

from __future__ import annotations

import orjson
import pytest

from costline.api.producing import InflightEvents, Overloaded, messages
from costline.publisher import MAX_MESSAGE_BYTES
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
