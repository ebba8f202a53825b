"""The wire contract: what is accepted, and what is turned away with a reason."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import get_args

import orjson
import pytest
from pydantic import ValidationError

from schemas.events import (
    EARLIEST_OCCURRED_AT,
    LATEST_OCCURRED_AT,
    MAX_ATTRIBUTE_VALUE_CHARS,
    MAX_ATTRIBUTES,
    MEDIA_TOKENS,
    Compute,
    Kind,
    LlmCall,
    Outcome,
    UsageEvent,
    parse_event,
    usage_event_adapter,
)
from streams.dead_letter import describe_validation_error
from tests.factories import usage

BASE = b'"event_id":"e1","customer_id":"acme","agent_id":"bot","occurred_at":"2026-11-20T10:00:00+02:00"'


def test_kind_lists_each_event_class_kind_once_in_order() -> None:
    classes = get_args(get_args(UsageEvent)[0])
    kinds = [get_args(cls.model_fields["kind"].annotation)[0] for cls in classes]
    assert tuple(kinds) == get_args(Kind)


def test_timestamps_are_stored_in_utc() -> None:
    event = parse_event(b'{"kind":"tool","tool":"twilio-sms",' + BASE + b"}")
    assert event.occurred_at.isoformat() == "2026-11-20T08:00:00+00:00"


def test_unknown_fields_are_rejected_so_typos_do_not_bill_zero() -> None:
    with pytest.raises(ValidationError) as err:
        parse_event(
            b'{"kind":"llm","provider":"openai","model":"gpt-4o","input_tokens":1,"output_token":5,'
            + BASE
            + b"}"
        )
    code, reason = describe_validation_error(err.value)
    assert code == "invalid_event"
    assert "output_tokens: Field required" in reason and "output_token: Extra inputs" in reason


def test_cached_tokens_are_part_of_input() -> None:
    with pytest.raises(ValidationError, match="exceed input_tokens"):
        parse_event(
            b'{"kind":"llm","provider":"openai","model":"gpt-4o","input_tokens":10,"cached_input_tokens":11,"output_tokens":1,'
            + BASE
            + b"}"
        )


def test_malformed_json_gets_its_own_code() -> None:
    with pytest.raises(ValidationError) as err:
        parse_event(b'{"kind": "llm", "event_id": ')
    assert describe_validation_error(err.value)[0] == "malformed_json"


@pytest.mark.parametrize("bad", [b'"input_tokens":-1', b'"input_tokens":1000000000000'])
def test_counts_are_bounded(bad: bytes) -> None:
    with pytest.raises(ValidationError):
        parse_event(b'{"kind":"llm","provider":"p","model":"m","output_tokens":1,' + bad + b"," + BASE + b"}")


def test_naive_timestamps_are_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        parse_event(
            b'{"kind":"tool","tool":"x","event_id":"e","customer_id":"c","agent_id":"a","occurred_at":"2026-11-20T10:00:00"}'
        )


def test_round_trip() -> None:
    event = parse_event(
        b'{"kind":"llm","provider":"openai","model":"gpt-4o","input_tokens":5,"output_tokens":2,'
        + BASE
        + b"}"
    )
    assert isinstance(event, LlmCall)
    assert parse_event(event.model_dump_json()) == event


def event_with(**fields: object) -> bytes:
    event: dict[str, object] = {
        "event_id": "e1",
        "customer_id": "acme",
        "agent_id": "bot",
        "occurred_at": "2026-11-20T10:00:00Z",
        **fields,
    }
    return orjson.dumps(event)


def reason_for(raw: bytes) -> tuple[str, str]:
    with pytest.raises(ValidationError) as err:
        parse_event(raw)
    return describe_validation_error(err.value)


COUNTS = [
    {"kind": "llm", "provider": "openai", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 1},
    {"kind": "embedding", "model": "text-embedding-3-small", "tokens": 1000},
    {"kind": "tool", "tool": "twilio-sms", "calls": 1000},
    {"kind": "vector_query", "provider": "pinecone", "queries": 1000},
    {"kind": "storage", "sku": "s3-standard", "bytes": 1000, "seconds": "3600"},
    {"kind": "outcome", "outcome_type": "ticket_resolved", "quantity": 1000},
]


@pytest.mark.parametrize("fields", COUNTS, ids=[f["kind"] for f in COUNTS])
@pytest.mark.parametrize("wrong", [b"true", b'"1000"', b"1e3", b"1000.0"])
def test_counts_are_json_integers_only(fields: dict[str, object], wrong: bytes) -> None:
    assert parse_event(event_with(**fields))  # 1000 as an integer is fine
    raw = event_with(**fields).replace(b":1000", b":" + wrong, 1)
    code, reason = reason_for(raw)
    assert code == "invalid_event" and "must be a JSON integer" in reason, reason


def test_a_boolean_is_not_a_token_count_and_the_reason_says_what_came() -> None:
    _, reason = reason_for(event_with(**{**COUNTS[0], "input_tokens": True}))
    assert reason == "llm.input_tokens: must be a JSON integer, not true"


@pytest.mark.parametrize("flag", [1, "true", 0])
def test_flags_are_json_booleans_only(flag: object) -> None:
    assert reason_for(event_with(**COUNTS[0], batch=flag))[0] == "invalid_event"
    outcome = {"kind": "outcome", "outcome_type": "ticket_resolved", "success": flag}
    assert "must be true or false" in reason_for(event_with(**outcome))[1]


def test_amounts_take_numbers_and_decimal_strings_but_never_booleans() -> None:
    for seconds in (b"90", b"90.5", b'"90.5"', b"9.05e1"):
        event = parse_event(
            event_with(kind="compute", sku="gpu", seconds=0).replace(b":0}", b":" + seconds + b"}")
        )
        assert isinstance(event, Compute) and event.seconds in (Decimal(90), Decimal("90.5"))
    assert reason_for(event_with(kind="compute", sku="gpu", seconds=True))[0] == "invalid_event"
    assert reason_for(event_with(kind="outcome", outcome_type="sale", value=True))[0] == "invalid_event"


def test_json_numbers_for_amounts_are_exact_decimals_kept_at_the_ledgers_scale() -> None:
    # A float would have made this 1; the ledger keeps 12 places, rounded half-even once here.
    raw = event_with(kind="outcome", outcome_type="sale", value=0).replace(
        b'"value":0', b'"value":12345678901234.00000000000050000001'
    )
    event = parse_event(raw)
    assert isinstance(event, Outcome) and event.value == Decimal("12345678901234.000000000001")
    assert str(event.value).split(".")[1] == "000000000001"


def test_a_5_mb_attribute_is_refused_with_the_limit_named() -> None:
    code, reason = reason_for(event_with(kind="tool", tool="x", attributes={"notes": "x" * 5_000_000}))
    assert code == "invalid_event"
    assert f"at most {MAX_ATTRIBUTE_VALUE_CHARS} characters (MAX_ATTRIBUTE_VALUE_CHARS)" in reason
    assert len(reason) < 500


def test_two_thousand_attribute_keys_with_control_characters_are_refused() -> None:
    attributes = {f"k\x07{i}": "v" for i in range(2000)}
    code, reason = reason_for(event_with(kind="tool", tool="x", attributes=attributes))
    assert code == "invalid_event" and f"at most {MAX_ATTRIBUTES} attributes" in reason and "2,000" in reason


@pytest.mark.parametrize(
    ("attributes", "limit"),
    [
        ({"k" * 129: "v"}, "MAX_ATTRIBUTE_KEY_CHARS"),
        ({"": "v"}, "MAX_ATTRIBUTE_KEY_CHARS"),
        ({"team": "a\nb"}, "control characters"),
        ({"team\x85": "a"}, "control characters"),
    ],
)
def test_attribute_keys_and_values_are_bounded(attributes: dict[str, str], limit: str) -> None:
    assert limit in reason_for(event_with(kind="tool", tool="x", attributes=attributes))[1]


def test_attribute_keys_are_kept_as_sent_so_none_overwrites_another() -> None:
    event = parse_event(event_with(kind="tool", tool="x", attributes={"team": "a", "team ": " b"}))
    assert event.attributes == {"team": "a", "team ": " b"}


def test_attributes_up_to_every_limit_are_fine() -> None:
    attributes = {f"{i:0128d}": "v" * MAX_ATTRIBUTE_VALUE_CHARS for i in range(MAX_ATTRIBUTES)}
    assert len(parse_event(event_with(kind="tool", tool="x", attributes=attributes)).attributes) == 64


@pytest.mark.parametrize(
    "at",
    [
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-01:00",  # past the calendar once in UTC
        "0001-01-01T00:00:00+01:00",
        "2100-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
    ],
)
def test_occurred_at_must_fit_every_time_column(at: str) -> None:
    code, reason = reason_for(event_with(kind="tool", tool="x", occurred_at=at))
    assert code == "invalid_event" and "from 1970-01-01 and before 2100-01-01" in reason


def test_the_contracts_time_range_ends_before_clickhouse_datetime_does() -> None:
    # cost_windows.window_start is a DateTime: 1970-01-01 .. 2106-02-07
    assert datetime(1970, 1, 1, tzinfo=UTC) <= EARLIEST_OCCURRED_AT < LATEST_OCCURRED_AT
    assert datetime(2106, 2, 7, tzinfo=UTC) >= LATEST_OCCURRED_AT


def test_schema_version_is_the_integer_1() -> None:
    assert reason_for(event_with(kind="tool", tool="x", schema_version=True))[0] == "invalid_event"
    assert parse_event(event_with(kind="tool", tool="x", schema_version=1)).schema_version == 1


def test_skus_hold_no_control_characters() -> None:
    assert reason_for(event_with(kind="tool", tool="sms\x00"))[0] == "invalid_event"


def test_a_huge_unknown_field_name_does_not_make_a_huge_reason() -> None:
    code, reason = reason_for(event_with(kind="tool", tool="x", **{"k" * 5_000_000: 1}))
    assert code == "invalid_event" and "Extra inputs" in reason and len(reason) < 1000


MEDIA_COUNTS = [
    "input_audio_tokens",
    "cached_audio_input_tokens",
    "output_audio_tokens",
    "input_image_tokens",
    "cached_image_input_tokens",
    "output_image_tokens",
]


def llm_with(**fields: object) -> bytes:
    return event_with(**{**COUNTS[0], "input_tokens": 1000, "output_tokens": 1000, **fields})


def test_audio_and_image_counts_default_to_zero() -> None:
    event = parse_event(llm_with())
    assert isinstance(event, LlmCall)
    assert all(getattr(event, name) == 0 for name in MEDIA_COUNTS)


@pytest.mark.parametrize("name", MEDIA_COUNTS)
@pytest.mark.parametrize("wrong", [True, "10", 10.0, -1, 100_000_001])
def test_audio_and_image_counts_are_bounded_json_integers(name: str, wrong: object) -> None:
    code, reason = reason_for(llm_with(**{name: wrong}))
    assert code == "invalid_event" and f"llm.{name}" in reason, reason


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"input_audio_tokens": 600, "input_image_tokens": 401}, "exceed input_tokens"),
        ({"input_audio_tokens": 900, "cache_write_tokens": 101}, "exceed input_tokens"),
        ({"cached_audio_input_tokens": 1, "cached_input_tokens": 5}, "exceed input_audio_tokens"),
        ({"cached_image_input_tokens": 1, "cached_input_tokens": 5}, "exceed input_image_tokens"),
        ({"input_audio_tokens": 10, "cached_audio_input_tokens": 10}, "exceed cached_input_tokens"),
        ({"output_audio_tokens": 600, "output_image_tokens": 401}, "exceed output_tokens"),
        ({"output_audio_tokens": 900, "reasoning_tokens": 101}, "exceed output_tokens"),
    ],
)
def test_audio_and_image_tokens_are_parts_of_the_totals_never_more(
    fields: dict[str, int], problem: str
) -> None:
    code, reason = reason_for(llm_with(**fields))
    assert code == "invalid_event" and problem in reason, reason


def test_cached_media_counts_once_in_the_text_remainder() -> None:
    event = parse_event(
        llm_with(
            cached_input_tokens=500,
            input_audio_tokens=600,
            cached_audio_input_tokens=300,
            input_image_tokens=200,
            cached_image_input_tokens=100,
            output_audio_tokens=700,
            output_image_tokens=300,
        )
    )
    assert isinstance(event, LlmCall)
    # 1000 - 500 cached - (600 - 300) uncached audio - (200 - 100) uncached image
    assert event.text_input_tokens == 100
    assert event.text_cached_input_tokens == 100
    assert event.text_output_tokens == 0


def test_an_llm_event_is_accepted_exactly_when_its_parts_fit_its_totals() -> None:
    """The validator's one-expression fast path agrees with the rules one by one, on 3,000 random calls."""
    rng = random.Random(7)
    parts = ["cached_input_tokens", "cache_write_tokens", "reasoning_tokens", *MEDIA_TOKENS]
    for _ in range(3000):
        tokens = {name: rng.randrange(0, 6) for name in parts}
        tokens |= {"input_tokens": rng.randrange(0, 25), "output_tokens": rng.randrange(0, 15)}
        tier = rng.choice([None, "batch", "flex", "priority"])
        batch = rng.random() < 0.3
        t = SimpleNamespace(**tokens)
        fits = (
            (not batch or tier in (None, "batch"))
            and t.cached_input_tokens + t.cache_write_tokens <= t.input_tokens
            and t.reasoning_tokens <= t.output_tokens
            and t.cached_audio_input_tokens <= t.input_audio_tokens
            and t.cached_image_input_tokens <= t.input_image_tokens
            and t.cached_audio_input_tokens + t.cached_image_input_tokens <= t.cached_input_tokens
            and t.input_tokens
            - t.cached_input_tokens
            - t.cache_write_tokens
            - (t.input_audio_tokens - t.cached_audio_input_tokens)
            - (t.input_image_tokens - t.cached_image_input_tokens)
            >= 0
            and t.output_tokens - t.output_audio_tokens - t.output_image_tokens - t.reasoning_tokens >= 0
        )
        sent = usage("call", "llm", batch=batch, service_tier=tier, **tokens)
        try:
            usage_event_adapter.validate_python(sent)
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == fits, sent
