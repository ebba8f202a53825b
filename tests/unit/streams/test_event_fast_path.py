"""The decoder's fast path admits only what the contract admits, and builds what pydantic builds.

For every input here, either :func:`fast_event` declines (None: pydantic
decides) or pydantic accepts the same input and makes an equal event: same
class, fields, fields set, UTC time and wire form.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from bench.workload import events
from schemas.events import (
    Compute,
    Correction,
    Embedding,
    HumanReview,
    LlmCall,
    Outcome,
    Storage,
    ToolCall,
    VectorQuery,
    dump_event,
    load_json,
    usage_event_adapter,
)
from streams.event_fast_path import _CONTROL, fast_event

BASE = {
    "event_id": "call-1",
    "occurred_at": "2026-11-29T12:00:00.000100+00:00",
    "customer_id": "acme",
    "agent_id": "support-bot",
}
LLM = {
    **BASE,
    "kind": "llm",
    "provider": "openai",
    "model": "gpt-4o",
    "input_tokens": 1000,
    "output_tokens": 200,
}
TOOL = {**BASE, "kind": "tool", "tool": "sms", "calls": 2}
OUTCOME = {**BASE, "kind": "outcome", "outcome_type": "ticket_resolved", "success": False}


def assert_same_as_pydantic(item: dict[str, Any]) -> bool:
    """True when the fast path took ``item``; fails if it differs from pydantic in any way."""
    fast = fast_event(item)
    if fast is None:
        return False
    try:
        strict = usage_event_adapter.validate_python(item)
    except ValidationError as exc:
        pytest.fail(f"fast path admitted what the contract refuses: {item!r}: {exc}")
    assert type(fast) is type(strict) and fast == strict
    assert fast.model_fields_set == strict.model_fields_set
    assert dump_event(fast) == dump_event(strict)
    assert fast.occurred_at.tzinfo is strict.occurred_at.tzinfo
    assert list(fast.__dict__) == list(strict.__dict__)
    return True


def test_every_event_of_the_benchmark_fleet_is_built_as_pydantic_builds_it() -> None:
    taken = 0
    for _, raw in events(5000, span_s=60):
        taken += assert_same_as_pydantic(load_json(raw))
    assert taken == 5000  # every kind of the fleet, amounts as text included


@pytest.mark.parametrize("base", [LLM, TOOL, OUTCOME])
@pytest.mark.parametrize(
    "field,value",
    [
        ("event_id", " call-1"),
        ("event_id", "call-1\u00a0"),
        ("event_id", "call\x1f1"),
        ("event_id", "call\x851"),
        ("event_id", ""),
        ("event_id", "x" * 256),
        ("event_id", "x" * 257),
        ("event_id", 17),
        ("customer_id", "acme\n"),
        ("customer_id", "\u2028acme"),
        ("agent_id", None),
        ("user_id", None),
        ("user_id", "u-1"),
        ("user_id", "u\x00"),
        ("task_id", "t" * 300),
        ("schema_version", 1),
        ("schema_version", True),
        ("schema_version", Decimal("1.0")),
        ("schema_version", 2),
        ("occurred_at", "2026-11-29T12:00:00Z"),
        ("occurred_at", "2026-11-29T12:00:00.5Z"),
        ("occurred_at", "2026-11-29T12:00:00.1234567Z"),
        ("occurred_at", "2026-11-29T12:00:00+01:00"),
        ("occurred_at", "2026-11-29T12:00:00-00:00"),
        ("occurred_at", "2026-11-29T12:00:00"),
        ("occurred_at", "2026-11-29"),
        ("occurred_at", "2026-11-29 12:00:00Z"),
        ("occurred_at", "2026-11-29T12:00:00,5Z"),
        ("occurred_at", "2026-13-29T12:00:00Z"),
        ("occurred_at", "2026-02-30T12:00:00Z"),
        ("occurred_at", "2026-11-29T24:00:00Z"),
        ("occurred_at", "2026-11-29T23:59:60Z"),
        ("occurred_at", "1969-12-31T23:59:59.999999Z"),
        ("occurred_at", "1970-01-01T00:00:00Z"),
        ("occurred_at", "2099-12-31T23:59:59.999999Z"),
        ("occurred_at", "2100-01-01T00:00:00Z"),
        ("occurred_at", "\u0662026-11-29T12:00:00Z"),
        ("occurred_at", 1_764_417_600),
        ("attributes", {}),
        ("attributes", {"team": "search", "env ": " prod"}),
        ("attributes", {"team": 1}),
        ("attributes", {"": "x"}),
        ("attributes", {"k" * 129: "x"}),
        ("attributes", {"k": "v" * 1025}),
        ("attributes", {"k": "v\x07"}),
        ("attributes", {f"k{i}": "v" for i in range(65)}),
        ("attributes", ["team"]),
        ("surprise", 1),
        ("kind", ["llm"]),
        ("kind", "correction"),
    ],
)
def test_an_unusual_field_is_either_left_to_pydantic_or_read_as_pydantic_reads_it(
    base: dict[str, Any], field: str, value: Any
) -> None:
    assert_same_as_pydantic({**base, field: value})


@pytest.mark.parametrize(
    "fields",
    [
        {"input_tokens": True},
        {"input_tokens": -1},
        {"input_tokens": 100_000_000},
        {"input_tokens": 100_000_001},
        {"input_tokens": Decimal("1000.0")},
        {"input_tokens": "1000"},
        {"cached_input_tokens": 1000},
        {"cached_input_tokens": 1001},
        {"cached_input_tokens": 600, "cache_write_tokens": 400},
        {"cached_input_tokens": 600, "cache_write_tokens": 401},
        {"reasoning_tokens": 200},
        {"reasoning_tokens": 201},
        {"batch": True},
        {"batch": False},
        {"service_tier": "flex"},
        {"input_audio_tokens": 10},
        {"provider": "x" * 128},
        {"provider": "x" * 129},
        {"model": " gpt-4o"},
    ],
)
def test_model_calls_keep_their_parts_within_their_totals(fields: dict[str, Any]) -> None:
    assert_same_as_pydantic({**LLM, **fields})


@pytest.mark.parametrize(
    "fields",
    [
        {"calls": 0},
        {"calls": 10_000_000},
        {"calls": 10_000_001},
        {"calls": 1.0},
    ],
)
def test_tool_call_counts_are_json_integers_in_range(fields: dict[str, Any]) -> None:
    assert_same_as_pydantic({**TOOL, **fields})


@pytest.mark.parametrize(
    "fields",
    [
        {"currency": "EUR"},
        {"currency": "eur"},
        {"currency": " EUR"},
        {"currency": "EURO"},
        {"success": 0},
        {"quantity": 3},
        {"value": Decimal("12.5")},
    ],
)
def test_outcomes_in_their_usual_forms(fields: dict[str, Any]) -> None:
    assert_same_as_pydantic({**OUTCOME, **fields})


def test_a_field_sent_twice_under_another_key_order_is_still_one_shape() -> None:
    reordered = dict(reversed(list(LLM.items())))
    assert assert_same_as_pydantic(reordered)
    assert assert_same_as_pydantic(LLM)


def test_the_fast_path_knows_every_validator_of_the_contract() -> None:
    # A new rule in schemas/events.py fails here until streams/event_fast_path.py
    # checks it too (or leaves the shape it applies to to pydantic).
    known = {
        LlmCall: {"_to_utc", "_bounded_attributes", "_parts_fit_totals"},
        ToolCall: {"_to_utc", "_bounded_attributes"},
        Embedding: {"_to_utc", "_bounded_attributes"},
        VectorQuery: {"_to_utc", "_bounded_attributes"},
        Outcome: {"_to_utc", "_bounded_attributes"},
        Compute: {"_to_utc", "_bounded_attributes"},
        Storage: {"_to_utc", "_bounded_attributes"},
        HumanReview: {"_to_utc", "_bounded_attributes"},
        Correction: {"_to_utc", "_bounded_attributes", "_corrects_usage"},
    }
    for model, names in known.items():
        decorators = model.__pydantic_decorators__
        found = {*decorators.field_validators, *decorators.model_validators, *decorators.validators}
        assert found == names, model.__name__


@pytest.mark.parametrize(
    "value",
    [
        "500",
        "0.5",
        "500.1234567890123",
        " 500",
        "1_000",
        "1e3",
        "+5",
        "-0",
        "NaN",
        ".5",
        "5.",
        "５００",
        500,
        -1,
        True,
        Decimal("12.5"),
        Decimal("NaN"),
        Decimal("-0"),
        "31622400",
        "31622401",
        "9" * 19,
    ],
)
def test_compute_seconds_as_text_or_numbers(value: Any) -> None:
    compute = {**BASE, "kind": "compute", "sku": "fargate-1vcpu-2gb", "seconds": value}
    assert_same_as_pydantic(compute)
    review = {**BASE, "kind": "human_review", "sku": "review-us", "minutes": value}
    assert_same_as_pydantic(review)
    storage = {**BASE, "kind": "storage", "sku": "s3-standard", "bytes": 10**9, "seconds": value}
    assert_same_as_pydantic(storage)
    assert_same_as_pydantic({**storage, "bytes": 10**16 + 1})


def test_no_control_character_of_the_contract_is_printable() -> None:
    # The fast path takes a printable text as free of them without searching it.
    controls = [chr(code) for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)]]
    assert all(_CONTROL.fullmatch(char) and not char.isprintable() for char in controls)


@pytest.mark.parametrize(
    "text", ["call\u200b1", "call\u20281", "call\u00ad1", "call\ue0001", "call\U000e00011"]
)
@pytest.mark.parametrize("field", ["event_id", "customer_id", "user_id"])
def test_unprintable_text_without_a_control_character_is_still_taken(field: str, text: str) -> None:
    assert assert_same_as_pydantic({**LLM, field: text})
    assert assert_same_as_pydantic({**LLM, "attributes": {text: text}})
