"""The wire contract: what is accepted, and what is turned away with a reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.events import LlmCall, parse_event
from streams.dead_letter import describe_validation_error

BASE = b'"event_id":"e1","customer_id":"acme","agent_id":"bot","occurred_at":"2026-11-20T10:00:00+02:00"'


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
