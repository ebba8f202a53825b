"""The SDK's event ids: UUIDv7, ordered by the time the event occurred, unique, accepted as any id."""

import random
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from costline.event_id import new_event_id
from schemas.events import parse_event

AT = datetime(2026, 11, 20, 9, 30, 15, 123456, tzinfo=UTC)


def test_an_id_is_a_canonical_uuid_version_7_of_the_rfc_variant() -> None:
    made = new_event_id(AT)
    parsed = uuid.UUID(made)
    assert str(parsed) == made
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_its_first_48_bits_are_the_millisecond_the_event_occurred() -> None:
    millis = uuid.UUID(new_event_id(AT)).int >> 80
    assert datetime.fromtimestamp(millis / 1000, UTC) == AT.replace(microsecond=123000)


def test_ids_of_later_events_sort_after_earlier_ones() -> None:
    times = [AT + timedelta(milliseconds=n) for n in range(0, 5000, 7)]
    ids = [new_event_id(at) for at in times]
    assert ids == sorted(ids)


def test_ids_made_in_the_same_millisecond_differ() -> None:
    assert len({new_event_id(AT) for _ in range(10_000)}) == 10_000


def test_a_seeded_source_makes_the_same_ids_again() -> None:
    first = [new_event_id(AT, random.Random(7)) for _ in range(3)]
    assert first == [new_event_id(AT, random.Random(7)) for _ in range(3)]


def test_without_a_time_the_id_carries_now() -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    millis = uuid.UUID(new_event_id()).int >> 80
    assert before <= datetime.fromtimestamp(millis / 1000, UTC) <= datetime.now(UTC)


def test_a_time_before_1970_is_refused() -> None:
    with pytest.raises(ValueError, match="1970"):
        new_event_id(datetime(1969, 12, 31, tzinfo=UTC))


def test_an_event_carrying_it_is_a_valid_event() -> None:
    sent = {"kind": "tool", "tool": "twilio-sms", "event_id": new_event_id(AT), "occurred_at": AT.isoformat(),
            "customer_id": "acme", "agent_id": "support-bot"}  # fmt: skip
    event = parse_event(orjson.dumps(sent))
    assert uuid.UUID(event.event_id).version == 7
