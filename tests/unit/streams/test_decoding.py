"""Message bytes to events: strict JSON, one dead letter per bad event, occurred_at bounds.

The bounds are measured from the message's broker timestamp, so every case
here names one; none depends on the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from streams.decoding import MAX_EVENTS_PER_MESSAGE, Decoded, TimeBounds, decode_events, decode_message

BROKER_TIME = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BROKER_MS = int(BROKER_TIME.timestamp() * 1000)
STRIPE_LIKE = TimeBounds(max_age_s=35 * 86400, max_future_s=300)


def llm_call(event_id: str = "call-1", at: datetime = BROKER_TIME, **fields: Any) -> dict[str, Any]:
    return {
        "kind": "llm",
        "event_id": event_id,
        "occurred_at": at.isoformat(),
        "customer_id": "acme",
        "agent_id": "support-bot",
        "provider": "openai",
        "model": "gpt-4o",
        "input_tokens": 1000,
        "output_tokens": 200,
        **fields,
    }


def decode(value: Any, bounds: TimeBounds | None = STRIPE_LIKE) -> list[Decoded]:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    return decode_message(raw, BROKER_MS, bounds)


def codes(decoded: list[Decoded]) -> list[str | None]:
    return [d.error[0] if d.error else None for d in decoded]


def test_one_event_per_message_and_arrays_of_events_both_decode() -> None:
    assert codes(decode(llm_call())) == [None]
    assert codes(decode([llm_call("a"), llm_call("b")])) == [None, None]


def test_a_repeated_token_count_is_malformed_not_billed_as_the_last_value() -> None:
    # A producer that merged two usage reports: which one is true is unknowable.
    raw = (
        b'{"kind":"llm","event_id":"e1","occurred_at":"2026-11-29T12:00:00Z","customer_id":"acme",'
        b'"agent_id":"bot","provider":"openai","model":"gpt-4o","input_tokens":1000,'
        b'"output_tokens":5,"input_tokens":1}'
    )
    [item] = decode(raw)
    assert item.event is None and item.error is not None
    assert item.error[0] == "malformed_json" and 'duplicate key "input_tokens"' in item.error[1]
    assert item.raw == raw


def test_a_duplicate_key_inside_attributes_is_malformed_too() -> None:
    raw = orjson.dumps([llm_call("a"), llm_call("b", attributes={"team": "x"})])
    raw = raw.replace(b'{"team":"x"}', b'{"team":"x","team":"y"}')
    [item] = decode(raw)
    assert item.error is not None and item.error[0] == "malformed_json" and '"team"' in item.error[1]


def test_an_empty_array_is_a_dead_letter_not_silence() -> None:
    [item] = decode(b"[]")
    assert item.error is not None and item.error[0] == "empty_message" and item.raw == b"[]"


def test_nan_and_infinity_are_not_json() -> None:
    assert codes(decode(b'{"kind":"compute","seconds":NaN}')) == ["malformed_json"]
    assert codes(decode(b'{"kind":"compute","seconds":Infinity}')) == ["malformed_json"]


def test_a_lone_surrogate_is_malformed_since_no_column_could_store_it() -> None:
    raw = orjson.dumps(llm_call()).replace(b'"support-bot"', b'"bot-\\ud800"')
    assert codes(decode(raw)) == ["malformed_json"]


def test_three_bad_events_among_good_ones_are_three_dead_letters_with_their_places() -> None:
    events = [llm_call(f"e{i}") for i in range(8)]
    events[1]["input_tokens"] = True
    events[4]["output_tokens"] = "200"
    events[6]["attributes"] = {"k\x00": "v"}
    decoded = decode(events)
    assert [d.index for d in decoded] == list(range(8))
    bad = {d.index: d for d in decoded if d.event is None}
    assert sorted(bad) == [1, 4, 6]
    assert all(d.error is not None and d.error[0] == "invalid_event" for d in bad.values())
    # Each letter holds its own event only, so replaying it repeats no neighbour.
    assert orjson.loads(bad[4].raw)["event_id"] == "e4"
    assert b"e3" not in bad[4].raw


def test_a_bad_events_letter_keeps_its_numbers_as_sent() -> None:
    raw = orjson.dumps([llm_call("a"), llm_call("b")]).replace(
        b'"output_tokens":200}]', b'"output_tokens":2e2}]'
    )
    bad = [d for d in decode(raw) if d.event is None]
    assert len(bad) == 1 and b'"output_tokens":2E+2' in bad[0].raw


def test_a_count_past_64_bits_among_good_events_is_a_dead_letter_with_its_digits() -> None:
    raw = orjson.dumps([llm_call("a"), llm_call("b")]).replace(
        b'"output_tokens":200}]', b'"output_tokens":' + b"9" * 40 + b"}]"
    )
    decoded = decode(raw)
    assert decoded[0].event is not None and decoded[1].event is None
    assert decoded[1].error is not None and decoded[1].error[0] == "invalid_event"
    assert b'"output_tokens":' + b"9" * 40 + b"}" in decoded[1].raw


def test_more_events_than_a_message_may_hold_are_refused_whole() -> None:
    assert MAX_EVENTS_PER_MESSAGE - 1 <= 2**16 - 1  # the last index fits ledger.source_index UInt16
    [item] = decode(b"[" + b",".join([b"{}"] * (MAX_EVENTS_PER_MESSAGE + 1)) + b"]")
    assert item.error is not None and item.error[0] == "invalid_event" and "65,536" in item.error[1]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (BROKER_TIME - timedelta(days=35), None),
        (BROKER_TIME - timedelta(days=35, microseconds=1), "out_of_bounds"),
        (BROKER_TIME + timedelta(seconds=300), None),
        (BROKER_TIME + timedelta(seconds=300, microseconds=1), "out_of_bounds"),
        (BROKER_TIME - timedelta(days=400), "out_of_bounds"),
        (BROKER_TIME + timedelta(days=1), "out_of_bounds"),
    ],
    ids=["35-days-old", "just-older", "5-minutes-ahead", "just-further-ahead", "last-year", "tomorrow"],
)
def test_occurred_at_is_bounded_by_the_messages_broker_time(at: datetime, expected: str | None) -> None:
    assert codes(decode(llm_call(at=at))) == [expected]


def test_an_old_event_names_the_setting_that_lets_a_replay_count_it() -> None:
    raw = orjson.dumps(llm_call(at=BROKER_TIME - timedelta(days=40)))
    [item] = decode(raw)
    assert item.error is not None and item.raw == raw  # replayable as it came
    code, reason = item.error
    assert code == "out_of_bounds" and "COSTLINE_EVENT_MAX_AGE_S=3024000" in reason
    assert "40.0 days before" in reason


def test_an_event_from_the_future_names_its_setting() -> None:
    [item] = decode(llm_call(at=BROKER_TIME + timedelta(hours=3)))
    assert item.error is not None and "COSTLINE_EVENT_MAX_FUTURE_S=300" in item.error[1]


def test_the_same_message_decides_the_same_way_whenever_it_is_read() -> None:
    # A batch replayed after a long outage: only the broker time matters.
    message = orjson.dumps([llm_call("a", at=BROKER_TIME - timedelta(days=34)), llm_call("b")])
    first = decode_message(message, BROKER_MS, STRIPE_LIKE)
    again = decode_message(message, BROKER_MS, STRIPE_LIKE)
    assert codes(first) == codes(again) == [None, None]


def test_wide_bounds_admit_history_and_only_the_contract_limits_remain() -> None:
    wide = TimeBounds(max_age_s=1e12, max_future_s=1e12)  # past the calendar: no bound
    assert codes(decode(llm_call(at=datetime(1999, 1, 1, tzinfo=UTC)), wide)) == [None]
    assert codes(decode(llm_call(at=datetime(2099, 12, 31, tzinfo=UTC)), wide)) == [None]
    assert codes(decode(llm_call(at=datetime(2100, 1, 1, tzinfo=UTC)), wide)) == ["invalid_event"]


def test_without_a_broker_time_only_the_contract_bounds_apply() -> None:
    raw = orjson.dumps(llm_call(at=datetime(2001, 1, 1, tzinfo=UTC)))
    assert codes(decode_message(raw)) == [None]


def test_bounds_come_from_settings() -> None:
    from costline.config import Settings

    bounds = TimeBounds.from_settings(Settings(event_max_age_s=60, event_max_future_s=0))
    assert bounds == TimeBounds(60, 0)
    assert TimeBounds.from_settings(Settings()) == STRIPE_LIKE


def test_an_array_all_on_the_fast_path_and_in_bounds_comes_back_as_bare_events() -> None:
    raw = orjson.dumps([llm_call("a"), llm_call("b", at=BROKER_TIME - timedelta(days=3))])
    events, decoded = decode_events(raw, BROKER_MS, STRIPE_LIKE)
    assert decoded == [] and [e.event_id for e in events] == ["a", "b"]
    assert [d.event for d in decode_message(raw, BROKER_MS, STRIPE_LIKE)] == events


@pytest.mark.parametrize(
    "late", [BROKER_TIME - timedelta(days=36), BROKER_TIME + timedelta(minutes=6)], ids=["old", "ahead"]
)
def test_one_event_out_of_bounds_sends_its_array_to_the_event_by_event_path(late: datetime) -> None:
    raw = orjson.dumps([llm_call("a"), llm_call("late", at=late), llm_call("c")])
    events, decoded = decode_events(raw, BROKER_MS, STRIPE_LIKE)
    assert events == [] and decoded == decode_message(raw, BROKER_MS, STRIPE_LIKE)
    assert [(d.index, d.error and d.error[0]) for d in decoded] == [
        (0, None),
        (1, "out_of_bounds"),
        (2, None),
    ]


def test_a_message_off_the_fast_path_comes_back_decoded_event_by_event() -> None:
    raw = orjson.dumps(llm_call("a"))  # one event, not an array
    events, decoded = decode_events(raw, BROKER_MS, STRIPE_LIKE)
    assert events == [] and [d.event.event_id for d in decoded if d.event is not None] == ["a"]
