"""An array message read by msgspec decodes exactly as it did when load_json read it.

msgspec keeps the last of duplicate keys where load_json refuses the whole
message; the decoder rules duplicates out by counting strings, and reads
anything it is unsure of (an escape, an odd event, JSON msgspec refuses)
with load_json again. Every case here compares the two, event by event and
dead letter by dead letter: same class, fields, fields set, field order and
UTC time; same code, reason and bytes.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from unittest import mock

import orjson
import pytest

from bench.workload import events, pack
from schemas.dead_letters import DeadLetterCode
from streams.decoding import Decoded, TimeBounds, _fast_array, decode_message, encode_json

BROKER_MS = int(datetime(2026, 11, 29, 12, 0, tzinfo=UTC).timestamp() * 1000)
BOUNDS = TimeBounds(max_age_s=35 * 86400, max_future_s=300)
BASE = {
    "event_id": "call-1",
    "occurred_at": "2026-11-29T11:59:00.000100+00:00",
    "customer_id": "acme",
    "agent_id": "support-bot",
}
LLM = {**BASE, "kind": "llm", "provider": "openai", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 2}
TOOL = {**BASE, "kind": "tool", "tool": "sms", "calls": 2}
STORAGE = {**BASE, "kind": "storage", "sku": "s3-standard", "bytes": 10**9, "seconds": "3600"}
OUTCOME = {**BASE, "kind": "outcome", "outcome_type": "ticket_resolved", "success": False}


def as_load_json_read_it(raw: bytes) -> list[Decoded]:
    with mock.patch("streams.decoding._fast_array", return_value=None):
        return decode_message(raw, BROKER_MS, BOUNDS)


def assert_decoded_as_before(raw: bytes) -> list[Decoded]:
    now = decode_message(raw, BROKER_MS, BOUNDS)
    before = as_load_json_read_it(raw)
    assert len(now) == len(before)
    for new, old in zip(now, before, strict=True):
        assert (new.index, new.error, new.raw) == (old.index, old.error, old.raw)
        if old.event is None:
            assert new.event is None
            continue
        assert type(new.event) is type(old.event) and new.event == old.event
        assert new.event.model_fields_set == old.event.model_fields_set
        assert list(new.event.__dict__) == list(old.event.__dict__)
        assert new.event.occurred_at.tzinfo is old.event.occurred_at.tzinfo
    return now


def message(*items: Any) -> bytes:
    """A JSON array of these events; a Decimal is written with its digits (an integral one as an int)."""
    return encode_json(list(items))


def test_every_message_of_the_benchmark_fleet_is_read_by_msgspec_as_before() -> None:
    for _, raw in pack(events(3000, span_s=60), 100):
        assert _fast_array(raw) is not None
        assert_decoded_as_before(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'[{"kind":"tool","kind":"tool","event_id":"a","occurred_at":"2026-11-29T11:59:00Z",'
        b'"customer_id":"acme","agent_id":"bot","tool":"sms","calls":1}]',
        b'[{"kind":"tool","event_id":"a","occurred_at":"2026-11-29T11:59:00Z",'
        b'"customer_id":"acme","agent_id":"bot","tool":"sms","calls":1,"calls":1}]',
        b'[{"kind":"tool","event_id":"a","occurred_at":"2026-11-29T11:59:00Z",'
        b'"customer_id":"acme","agent_id":"bot","tool":"sms","calls":9,"calls":1}]',
        b'[{"kind":"tool","event_id":"a","occurred_at":"2026-11-29T11:59:00Z","customer_id":"evil",'
        b'"customer_id":"acme","agent_id":"bot","tool":"sms","calls":1}]',
        b'[{"kind":"tool","event_id":"a","occurred_at":"2026-11-29T11:59:00Z","customer_id":"acme",'
        b'"agent_id":"bot","tool":"sms","attributes":{"team":"a","team":"b"}}]',
        b'[{"kind":"tool","event_id":"a","occurred_at":"2026-11-29T11:59:00Z","customer_id":"acme",'
        b'"agent_id":"bot","tool":"sms","user_id":null,"user_id":"u-1"}]',
        b'[{"kind":"storage","event_id":"a","occurred_at":"2026-11-29T11:59:00Z","customer_id":"acme",'
        b'"agent_id":"bot","sku":"s3","bytes":1,"seconds":5,"seconds":"5"}]',
        message(TOOL, TOOL).replace(b'"calls":2}]', b'"calls":2,"calls":2}]'),
    ],
    ids=["kind", "same count", "other count", "customer", "attribute", "user_id", "seconds", "second event"],
)
def test_a_duplicate_key_anywhere_still_makes_the_message_malformed(raw: bytes) -> None:
    decoded = assert_decoded_as_before(raw)
    assert len(decoded) == 1 and decoded[0].error is not None
    assert decoded[0].error[0] == DeadLetterCode.MALFORMED_JSON


@pytest.mark.parametrize(
    "raw",
    [
        message(LLM, TOOL).replace(b"call-1", b"call\\u002d1"),
        message(LLM).replace(b'"acme"', b'"\\u0061cme"'),
        message(LLM).replace(b'"support-bot"', b'"\\ud800"'),
        orjson.dumps([LLM, TOOL], option=orjson.OPT_INDENT_2),
        b" " + message(LLM),
        message(LLM) + b"\n",
        message(LLM) + b"x",
        message(LLM)[:-1],
        b"[]",
        b"[1]",
        b"[[]]",
        b'["tool"]',
        message(LLM, None),
        message({**LLM, "input_tokens": Decimal(10**30)}),
        message({**LLM, "input_tokens": Decimal(-(10**30))}),
        message({**LLM, "input_tokens": Decimal("1E+3")}),
        message({**LLM, "input_tokens": Decimal("1000.0")}),
        message({**LLM, "input_tokens": True}),
        message({**STORAGE, "seconds": Decimal("1E+3")}),
        message({**STORAGE, "seconds": Decimal("-0.0")}),
        message({**STORAGE, "seconds": Decimal("0.1234567890123456789")}),
        message({**STORAGE, "seconds": Decimal(10**40)}),
        message({**STORAGE, "seconds": " 5"}),
        message({**LLM, "occurred_at": "2026-11-29T12:59:00+01:00"}),
        message({**LLM, "occurred_at": "2026-11-29T11:59:00.5Z"}),
        message({**LLM, "customer_id": " acme "}),
        message({**LLM, "customer_id": "acme\u3000"}),
        message({**LLM, "agent_id": "bot\u00e9\U0001f600"}),
        message({**LLM, "surprise": 1}),
        message({key: value for key, value in LLM.items() if key != "model"}),
        message({**TOOL, "attributes": {"team": "search", "env": "prod"}}),
        message({**TOOL, "attributes": {"team": "a\u0085"}}),
        message({**TOOL, "user_id": None, "task_id": "t-1", "request_id": None}),
        message({**OUTCOME, "currency": "EUR", "quantity": 3}),
        message({**OUTCOME, "value": Decimal("12.50")}),
        message(TOOL, {**TOOL, "calls": 10_000_001}, LLM),
        message(*[TOOL] * 5, {**LLM, "customer_id": "other"}),
        message({**LLM, "occurred_at": "2026-11-29T12:10:00Z"}),
        message({**LLM, "occurred_at": "2020-01-01T00:00:00Z"}),
    ],
)
def test_odd_messages_decode_as_before(raw: bytes) -> None:
    assert_decoded_as_before(raw)


def test_a_message_of_many_shapes_and_string_counts_is_read_by_msgspec() -> None:
    raw = message(
        {**TOOL, "user_id": None, "task_id": "t-1"},
        {**STORAGE, "seconds": 3600},
        {**STORAGE, "seconds": Decimal("1.5")},
        {**TOOL, "attributes": {"team": "search", "env": "prod"}},
        {**TOOL, "attributes": {}},
        LLM,
        OUTCOME,
    )
    assert _fast_array(raw) is not None
    assert_decoded_as_before(raw)


ODD_BYTES = [b'"', b",", b":", b"{", b"}", b"0", b"-", b"\\", b" ", b"\xc3"]


def mutations(raw: bytes, rng: random.Random) -> list[bytes]:
    """Edits a producer bug or an attacker might make: a pair sent twice, a byte lost or changed,
    an escape, whitespace, a quote out of place."""
    pairs = [m for m in re.finditer(rb'"[a-z_]+":("[^"]*"|[-0-9.eE+]+|true|false|null)', raw)]
    pair = rng.choice(pairs)
    at = rng.randrange(1, len(raw) - 1)
    return [
        raw[: pair.end()] + b"," + pair.group() + raw[pair.end() :],
        raw[: pair.start()] + pair.group() + b"," + raw[pair.start() :],
        raw[:at] + raw[at + 1 :],
        raw[:at] + rng.choice(ODD_BYTES) + raw[at + 1 :],
        raw[:at] + b" \n\t" + raw[at:],
        raw.replace(b'"', b'"\\u0020', 1),
        raw.replace(b"000", b"0e0", 1),
        raw.replace(b'"kind":"', b'"kind":"tool","kind":"', 1),
    ]


def test_mutated_fleet_messages_decode_as_before() -> None:
    rng = random.Random(12)
    fleet = [raw for _, raw in pack(events(600, span_s=60), 20)]
    for raw in fleet:
        for mutated in mutations(raw, rng):
            decoded = assert_decoded_as_before(mutated)
        # The last one sends a kind twice, the second as first sent: msgspec builds every event,
        # and only the count of strings tells the message is malformed.
        assert decoded[0].error is not None and decoded[0].error[0] == DeadLetterCode.MALFORMED_JSON
