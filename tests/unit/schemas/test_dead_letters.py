"""A dead letter always reaches its topic, cut to fit if it must; the table keeps it whole."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.dead_letters import DeadLetter, DeadLetterCode

BROKER_LIMIT = 1_048_588


def letter(payload: bytes, index: int = 0) -> DeadLetter:
    return DeadLetter(
        DeadLetterCode.INVALID_EVENT, "attributes.note: too long", "costline.usage", 3, 120,
        b"acme", payload, datetime(2026, 11, 29, tzinfo=UTC), index,
    )  # fmt: skip


def record_size(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> int:
    return len(key or b"") + len(value or b"") + sum(len(k) + len(v) for k, v in headers)


def test_a_letter_that_fits_goes_to_the_topic_unchanged() -> None:
    original = letter(b'{"event_id":"e1"}')
    key, value, headers = original.record(BROKER_LIMIT)
    assert (key, value) == (b"acme", b'{"event_id":"e1"}')
    back = DeadLetter.from_record(key, value, headers)
    assert back.truncated_from is None
    assert (back.code, back.source_partition, back.source_offset) == (DeadLetterCode.INVALID_EVENT, 3, 120)


def test_an_oversize_letter_is_cut_and_marked_and_the_table_keeps_all_of_it() -> None:
    payload = b"x" * BROKER_LIMIT
    original = letter(payload, index=7)
    key, value, headers = original.record(BROKER_LIMIT)

    assert record_size(key, value, headers) < BROKER_LIMIT
    assert value is not None and payload.startswith(value)
    back = DeadLetter.from_record(key, value, headers)
    assert back.truncated_from == len(payload)
    assert back.source_index == 7
    assert original.row()[7] == payload  # the dead_letters row
