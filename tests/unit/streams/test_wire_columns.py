"""What :func:`streams.wire_columns.decode_batch` admits and reads: optional fields found only where
a message's strings are left over, event ids checked as one text."""

from __future__ import annotations

from operator import attrgetter
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
import pytest

from schemas.events import MAX_ATTRIBUTE_KEY_CHARS, MAX_ATTRIBUTE_VALUE_CHARS, MAX_ATTRIBUTES
from streams.wire_columns import (
    _attributes_column_ok,
    _attributes_ok,
    _gathered,
    _identifier,
    _ids_ok,
    _key_text,
    _keyed,
    _unique_ids_ok,
    decode_batch,
    select,
)
from tests.factories import usage

# Every test runs against the Python decoder and the native one (tests/unit/streams/conftest.py).
pytestmark = pytest.mark.usefixtures("wire_decoder")


def values(*messages: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(events) for events in messages]


def test_optional_fields_are_read_where_a_message_names_them_and_a_key_sent_twice_declines() -> None:
    plain = [usage("a1"), usage("a2", "llm")]
    named = [usage("b1", user_id="u-1", attributes={"team": "x"}), usage("b2", "llm", task_id="t-1")]
    # "user_id" only inside an attribute's value: the column is read, and every event has none.
    quoted = [usage("c1", attributes={"note": "user_id"})]
    sent = values(plain, named, quoted)
    twice = orjson.dumps([usage("d1")]).replace(b'"agent_id"', b'"agent_id":"x","agent_id"', 1)
    cached = orjson.dumps([usage("e1", "llm", cached_input_tokens=5)]).replace(
        b'"cached_input_tokens"', b'"cached_input_tokens":5,"cached_input_tokens"', 1
    )
    columns, slow = decode_batch([*sent, twice, cached], [b"acme"] * 5, None)
    assert slow == [3, 4]
    assert columns.message.tolist() == [0, 0, 1, 1, 2]
    assert columns.optional_ids["user_id"] == ["", "", "u-1", "", ""]
    assert columns.optional_ids["task_id"] == ["", "", "", "t-1", ""]
    assert columns.optional_ids["request_id"] == [""] * 5
    assert columns.attributes == [{}, {}, {"team": "x"}, {}, {"note": "user_id"}]


def test_a_batch_naming_no_optional_field_reads_none() -> None:
    columns, slow = decode_batch(
        values([usage("a1"), usage("a2", "llm")], [usage("b1")]), [b"acme"] * 2, None
    )
    assert slow == []
    assert columns.attributes is None
    assert all(ids == [""] * 3 for ids in columns.optional_ids.values())
    assert (
        columns.kinds["llm"].fields["cached_input_tokens"] == columns.kinds["llm"].fields["reasoning_tokens"]
    )


def test_a_bad_optional_id_declines_its_message_only() -> None:
    columns, slow = decode_batch(
        values([usage("a1")], [usage("b1", user_id=" padded")], [usage("c1", task_id="ok")]),
        [b"acme"] * 3,
        None,
    )
    assert slow == [1]
    assert columns.optional_ids["task_id"] == ["", "ok"]


@pytest.mark.parametrize(
    "ids",
    [
        ["a", "b c"],
        ["a ", "b"],
        [" a", "b"],
        ["a", "b\x00"],
        ["a", "é"],
        ["a", "b\x7f"],
        ["a\tb"],
        ["x"],
        ["a", "\u00a0b"],
        ["01a1f640-bc00-7a82-9e9a-87b3d5838d2d", "bench-1-2"],
        ["!", "~", "gpt-4o"],
        ["a", "b~\x7f"],
        ["a", "\x1fb"],
    ],
)
def test_event_ids_checked_as_one_text_as_each_alone(ids: list[str]) -> None:
    found = np.ones(len(ids), np.bool_) & _unique_ids_ok(ids)
    assert found.tolist() == [_identifier(v, 256) for v in ids]
    # Agents, SKUs and the other names: the same verdicts, also with the column's repeats.
    assert _ids_ok(ids * 3, 256).tolist() == [_identifier(v, 256) for v in ids * 3]
    assert _ids_ok(["", *ids], 256, skip_empty=True).tolist() == [True, *(_identifier(v, 256) for v in ids)]


def test_integer_fields_every_event_sent_are_read_once_and_the_others_default() -> None:
    every = [usage("a1", "llm", cached_input_tokens=5), usage("a2", "llm", cached_input_tokens=0)]
    left_out = {k: v for k, v in usage("b2", "tool").items() if k != "calls"}
    some = [usage("b1", "tool", calls=3), left_out]
    columns, slow = decode_batch(values(every, some), [b"acme"] * 2, None)
    assert slow == []
    llm, tool = columns.kinds["llm"], columns.kinds["tool"]
    assert llm.arrays["cached_input_tokens"].tolist() == [5, 0]
    assert "cache_write_tokens" not in llm.arrays  # sent by none
    assert llm.ints("cache_write_tokens", 0).tolist() == [0, 0]
    assert "calls" not in tool.arrays  # sent by some
    assert tool.ints("calls", 1).tolist() == [3, 1]
    # A key sent twice in a column every event sent: more strings than were read, declined.
    twice = orjson.dumps(every).replace(
        b'"cached_input_tokens"', b'"cached_input_tokens":7,"cached_input_tokens"', 1
    )
    columns, slow = decode_batch([twice, *values(some)], [b"acme"] * 2, None)
    assert slow == [0]
    assert list(columns.kinds) == ["tool"]


def test_a_cut_keeps_each_kinds_arrays_row_for_row() -> None:
    sent = values(
        [usage("a1", "llm", input_tokens=10, cached_input_tokens=1)],
        [usage("b1", "llm", input_tokens=20, cached_input_tokens=2)],
        [usage("c1", "llm", input_tokens=30, cached_input_tokens=3)],
    )
    columns, _ = decode_batch(sent, [b"acme"] * 3, None)
    kept = select(columns, columns.message != 1).kinds["llm"]
    assert kept.rows.tolist() == [0, 1]
    assert kept.arrays["input_tokens"].tolist() == kept.fields["input_tokens"] == [10, 30]
    assert kept.arrays["cached_input_tokens"].tolist() == [1, 3]


def test_each_messages_customers_are_its_key() -> None:
    customers = ["a", "a", "b", "a\x00a", "a", "ab", "a", "", "x\x00", "x\x00"]
    keys = ["a", "b", "a", "a", "a", "a\x00", "x\x00", "x"]
    lengths = [2, 1, 1, 1, 2, 1, 1, 1]  # the last message's one event: "x\x00"
    customers = customers[: sum(lengths)]
    found = _keyed(customers, keys, lengths)
    start, expected = 0, []
    for key, length in zip(keys, lengths, strict=True):
        expected.append(all(c == key for c in customers[start : start + length]) and "\x00" not in key)
        start += length
    assert found.tolist() == expected == [True, True, False, True, False, False, False, False]


def test_a_message_whose_events_are_not_all_its_keys_customer_is_declined() -> None:
    sent = values([usage("a1"), usage("a2")], [usage("b1"), usage("b2", customer="other")], [usage("c1")])
    columns, slow = decode_batch(sent, [b"acme", b"acme", b"other"], None)
    assert slow == [1, 2]
    assert columns.event_ids == ["a1", "a2"]


def test_the_customer_column_is_each_messages_key_one_text_a_message() -> None:
    sent = values([usage("a1"), usage("a2", "llm")], [usage("b1", customer="globex")], [usage("c1")])
    columns, slow = decode_batch(sent, [b"acme", b"globex", b"acme"], None)
    assert slow == []
    assert columns.customers == ["acme", "acme", "globex", "acme"]
    assert columns.customers == [event.customer_id for event in columns.structs]
    first, second, _, third = columns.customers
    assert first is second and first is not third  # shared within a message, not across
    kept = select(columns, columns.message != 1)
    assert kept.customers == ["acme", "acme", "acme"] and kept.customers[0] is kept.customers[1]


def test_a_key_that_is_not_utf8_declines_its_message() -> None:
    # The per-event path compares the key's bytes with the customer's encoding: never equal here.
    sent = values([usage("a1", customer="acme\ufffd")], [usage("b1")])
    assert _key_text(b"acme\xff") == "\x00" and _key_text(None) == "" and _key_text(b"acme") == "acme"
    columns, slow = decode_batch(sent, [b"acme\xff", b"acme"], None)
    assert slow == [0]
    assert columns.event_ids == ["b1"]


@pytest.mark.parametrize("many", [False, True])
def test_optional_fields_read_from_few_messages_or_many_give_the_same_columns(many: bool) -> None:
    # Few messages with strings left over: their text is searched for names. Many: every field is read.
    plain = [[usage(f"p{i}")] for i in range(2 if many else 20)]
    named = [
        [
            usage("a1", task_id="t-1", request_id=None),
            usage("a2", "llm", task_id="t-2", attributes={"k": "v w"}),
        ],
        [usage("b1", user_id="u-1", schema_version=1), usage("b2", user_id="u-2", task_id="t-3")],
    ]
    twice = orjson.dumps([usage("d1", task_id="t-9")]).replace(b'"task_id"', b'"task_id":"t-0","task_id"', 1)
    bad = [usage("e1", request_id=" r")]
    sent = [*values(*plain, *named, bad), twice]
    columns, slow = decode_batch(sent, [b"acme"] * len(sent), None)
    first = len(plain)
    assert slow == [first + 2, first + 3]
    assert columns.event_ids == [f"p{i}" for i in range(first)] + ["a1", "a2", "b1", "b2"]
    none = [""] * first
    assert columns.optional_ids["task_id"] == [*none, "t-1", "t-2", "", "t-3"]
    assert columns.optional_ids["user_id"] == [*none, "", "", "u-1", "u-2"]
    assert columns.optional_ids["request_id"] == [*none, "", "", "", ""]
    assert columns.attributes == [*([{}] * first), {}, {"k": "v w"}, {}, {}]


def test_every_event_sending_an_id_is_read_and_checked_at_once() -> None:
    sent = values(*([usage(f"a{i}", task_id=f"t-{i}")] for i in range(3)), [usage("b", task_id="two words")])
    columns, slow = decode_batch(sent, [b"acme"] * 4, None)
    assert slow == []  # a space inside an id is the fast path's: checked a value at a time
    assert columns.optional_ids["task_id"] == ["t-0", "t-1", "t-2", "two words"]
    columns, slow = decode_batch([*sent, *values([usage("c", task_id=" lead")])], [b"acme"] * 5, None)
    assert slow == [4]


def test_attributes_checked_at_once_as_a_dict_at_a_time() -> None:
    longest_key, longest_text = "k" * MAX_ATTRIBUTE_KEY_CHARS, "v" * MAX_ATTRIBUTE_VALUE_CHARS
    ascii_dicts: list[dict[str, str]] = [
        {},
        {"a": ""},
        {"a b": "c d", "e": "f"},
        {"": "x"},
        {longest_key: longest_text},
        {longest_key + "k": "x"},
        {"x": longest_text + "v"},
        {f"k{i}": "v" for i in range(MAX_ATTRIBUTES)},
        {f"k{i}": "v" for i in range(MAX_ATTRIBUTES + 1)},
        {" lead": "trail "},
    ]
    others: list[dict[str, str]] = [{"a": "b\x00"}, {"\x7f": "b"}, {"é": "ü"}, {"a": "\x85"}, {"a\tb": "c"}]
    for dicts in (ascii_dicts, ascii_dicts + others, others):
        assert _attributes_column_ok(dicts).tolist() == [_attributes_ok(d) for d in dicts]


@pytest.mark.parametrize("size", [0, 1, 2047, 2048, 2049, 5000])
def test_fields_gathered_a_chunk_at_a_time_are_each_getters_pass(size: int) -> None:
    objects = [SimpleNamespace(a=i, b=str(i), c=-i) for i in range(size)]
    getters = [attrgetter("a"), attrgetter("b"), attrgetter("c")]
    assert _gathered(objects, getters) == [list(map(g, objects)) for g in getters]


def test_a_batch_past_a_chunk_reads_every_events_fields() -> None:
    sent = [
        [
            usage(f"m{m}-{i}", "llm" if i % 3 else "tool", input_tokens=i + 1, calls=1 + i % 2)
            for i in range(100)
        ]
        for m in range(30)
    ]
    for events in sent:  # an LLM call has no calls, a tool call no tokens
        for event in events:
            event.pop("calls" if event["kind"] == "llm" else "input_tokens")
    columns, slow = decode_batch(values(*sent), [b"acme"] * 30, None)
    assert slow == [] and len(columns) == 3000
    flat = [event for events in sent for event in events]
    assert columns.event_ids == [e["event_id"] for e in flat]
    assert columns.agents == [e["agent_id"] for e in flat]
    llm = columns.kinds["llm"]
    assert llm.fields["input_tokens"] == [e["input_tokens"] for e in flat if e["kind"] == "llm"]
    assert columns.kinds["tool"].fields["calls"] == [e["calls"] for e in flat if e["kind"] == "tool"]
