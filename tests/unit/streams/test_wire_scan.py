"""The native decoder (streams._wire_scan) against the Python one, on the bench's batches and on a
hostile generated corpus: the same columns, values, per-kind fields and arrays, the same Structs
asked for, and the same messages declined."""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import msgspec
import numpy as np
import orjson
import pytest

from bench.workload import _fields, events, pack
from streams import wire_columns
from streams.decoding import MAX_EVENTS_PER_MESSAGE
from streams.wire_columns import WireColumns, decode_batch_python, select
from tests.factories import usage


@pytest.fixture(scope="module")
def native() -> ModuleType:
    found = wire_columns._load_native()
    if found is None:
        pytest.skip("streams._wire_scan is not built (no cargo where this tree was installed)")
    return found


Decode = Callable[..., tuple[WireColumns, list[int]]]


def typed(values: list[Any]) -> list[tuple[type, Any]]:
    """Values with their types: True is not 1, "1" is not 1, UNSET is itself."""
    return [(type(v), v) for v in values]


def assert_same(found: WireColumns, expected: WireColumns) -> None:
    for name in ("message", "index", "kind", "occurred_us"):
        a, b = getattr(found, name), getattr(expected, name)
        assert a.dtype == b.dtype == np.int64 and a.tolist() == b.tolist(), name
    assert typed(found.event_ids) == typed(expected.event_ids)
    assert typed(found.customers) == typed(expected.customers)
    assert typed(found.agents) == typed(expected.agents)
    assert found.optional_ids == expected.optional_ids
    assert found.attributes == expected.attributes
    assert list(found.kinds) == list(expected.kinds)
    for name, rows in expected.kinds.items():
        got = found.kinds[name]
        assert got.rows.tolist() == rows.rows.tolist(), name
        assert list(got.fields) == list(rows.fields)
        for field, values in rows.fields.items():
            assert typed(got.fields[field]) == typed(values), (name, field)
        assert list(got.arrays) == list(rows.arrays), name
        for field, array in rows.arrays.items():
            assert got.arrays[field].tolist() == array.tolist(), (name, field)
    assert len(found.structs) == len(expected.structs)
    assert msgspec.to_builtins(list(found.structs)) == msgspec.to_builtins(list(expected.structs))
    # A cut, as intake makes one after pricing: the same either way.
    if len(expected):
        keep = expected.message != expected.message[0]
        cut_found, cut_expected = select(found, keep), select(expected, keep)
        assert cut_found.event_ids == cut_expected.event_ids
        assert msgspec.to_builtins(list(cut_found.structs)) == msgspec.to_builtins(list(cut_expected.structs))


def check(
    native: ModuleType,
    values: list[bytes],
    keys: list[bytes | None],
    bounds: tuple[Any, Any] | None = None,
) -> tuple[WireColumns, list[int]]:
    expected, expected_slow = decode_batch_python(values, keys, bounds)
    found, slow = wire_columns._decode_native(native, values, keys, bounds)
    assert slow == expected_slow
    assert_same(found, expected)
    return found, slow


def test_the_benchs_batches_read_alike(native: ModuleType) -> None:
    pairs = pack(events(20_000), 100)
    for start in range(0, len(pairs), 50):
        chunk = pairs[start : start + 50]
        columns, slow = check(native, [v for _, v in chunk], [k for k, _ in chunk])
        assert slow == [] and len(columns) == sum(v.count(b'"event_id"') for _, v in chunk)


def test_bounds_decline_alike(native: ModuleType) -> None:
    pairs = pack(events(3_000), 100)
    values, keys = [v for _, v in pairs], [k for k, _ in pairs]
    full, _ = decode_batch_python(values, keys, None)
    middle = int(np.median(full.occurred_us))
    low = np.full(len(values), middle - 3_600_000_000, np.int64)
    high = np.full(len(values), middle + 3_600_000_000, np.int64)
    low[::3] = 0
    _, slow = check(native, values, keys, (low, high))
    assert 0 < len(slow) < len(values)


TIMES = [
    "2026-11-20T09:00:00Z", "2026-11-20T09:00:00+00:00", "2026-11-20T09:00:00.5Z",
    "2026-11-20T09:00:00.123456Z", "2026-11-20T09:00:00.1234567Z", "2026-11-20T09:00:00.Z",
    "2026-11-20T09:00:00.123+00:00", "2026-11-20T09:00:00+01:00", "2026-11-20T09:00:00z",
    "2026-11-20t09:00:00Z", "2026-11-20 09:00:00Z", "2026-11-20T09:00:00", "2024-02-29T00:00:00Z",
    "2026-02-29T00:00:00Z", "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "2099-12-31T23:59:59.999999Z",
    "2100-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-11-00T00:00:00Z",
    "2026-11-20T24:00:00Z", "2026-11-20T09:60:00Z", "2026-11-20T09:00:60Z", "2026-11-2OT09:00:00Z",
    "2026-11-20T09:00:00.1a2Z", "２026-11-20T09:00:00Z", "2026-11-20T09:00:00Zé", "", "Z", "+00:00",
    "2026-11-20T09:00:00-00:00", "2026-11-20T09:00:00.+00:00", "2026-11-20T09:00:00.1234567+00:00",
    "2026-04-31T00:00:00Z", "2000-02-29T00:00:00Z", "2026-11-20T09:00:00\x7fZ",
]  # fmt: skip

NAMES = [
    "acme", " acme", "acme ", "a b", "a\tb", "é", "\u00a0x", "x\u00a0", "x\u2003", "\u3000", "a\x7fb",
    "a\u0085", "a\u009f", "x" * 256, "x" * 257, "é" * 128, "é" * 129, "~", "!", "a\u200bb",
]  # fmt: skip

AMOUNTS: list[Any] = [
    "1", "1.5", "01", ".5", "1.", "1e3", "1" * 18, "1" * 19, "1." + "1" * 18, "1." + "1" * 19, " 1", "-1",
    "", "１", 0, -0, 7, -3, 2**63, -(2**63) - 1, 10**30, 1.5, True, None,
]  # fmt: skip

INTS: list[Any] = [
    0,
    1,
    100_000_000,
    100_000_001,
    10_000_000,
    10_000_001,
    10**16,
    10**16 + 1,
    -1,
    2**64,
    1.0,
    "1",
    True,
    None,
]


def hostile_event(rng: random.Random, i: int) -> dict[str, Any]:
    kind = rng.choice(
        ["llm", "tool", "embedding", "vector_query", "compute", "storage", "human_review", "outcome"]
    )
    event = {**usage(f"e{i}", kind), **_fields(rng, kind)}  # the bench's good fields of each kind
    if rng.random() < 0.8:  # most events good, with the optional fields a good event may send
        return good_variant(rng, event)
    roll = rng.random()
    if roll < 0.08:
        event["occurred_at"] = rng.choice(TIMES)
    elif roll < 0.14:
        # A bad customer name declines the whole batch: seldom.
        event[rng.choice(["event_id", "agent_id"] * 5 + ["customer_id"])] = rng.choice(NAMES)
    elif roll < 0.2:
        field = {"llm": "model", "tool": "tool", "embedding": "model", "vector_query": "provider"}.get(
            kind, "sku"
        )
        event[field if kind != "outcome" else "outcome_type"] = rng.choice(NAMES)
    elif roll < 0.28:
        name = rng.choice(["user_id", "task_id", "request_id"])
        event[name] = rng.choice([*NAMES, None, "", "t-1", 5])
    elif roll < 0.34:
        event["attributes"] = rng.choice(
            [
                {}, {"a": "b"}, {"a b": "c d"}, {"": "x"}, {"k" * 129: "v"}, {"k": "v" * 1025},
                {f"k{j}": "v" for j in range(65)}, {"a": "\x01"}, {"a": 1}, {"a": None}, {"a": {"b": "c"}},
                None, [], "x", {"é": "ü"}, {"a": "\u0085"},
            ]
        )  # fmt: skip
    elif roll < 0.4:
        event["schema_version"] = rng.choice([1, 2, 0, "1", 1.0, True, None])
    elif roll < 0.5:
        if kind in ("compute", "storage"):
            event["seconds"] = rng.choice(AMOUNTS)
        elif kind == "human_review":
            event["minutes"] = rng.choice(AMOUNTS)
        elif kind == "llm":
            event[
                rng.choice(
                    [
                        "input_tokens",
                        "output_tokens",
                        "cached_input_tokens",
                        "cache_write_tokens",
                        "reasoning_tokens",
                    ]
                )
            ] = rng.choice(INTS)
        elif kind == "tool":
            event["calls"] = rng.choice(INTS)
        elif kind == "storage":
            event["bytes"] = rng.choice(INTS)
        elif kind == "outcome":
            field = rng.choice(["quantity", "currency", "success"])
            event[field] = rng.choice([*INTS, "USD", "usd", "US", "USDX", "ÉUR", False])
        else:
            event[rng.choice(["tokens", "queries"])] = rng.choice(INTS)
    elif roll < 0.53:
        event["unknown"] = 1
    elif roll < 0.56:
        event.pop(rng.choice(list(event)))
    elif roll < 0.58:
        event["kind"] = rng.choice(["LLM", "other", 1, None])
    elif roll < 0.6 and kind == "llm":
        event["cached_input_tokens"] = event["input_tokens"]
        event["cache_write_tokens"] = 1
    elif roll < 0.62 and kind == "llm":
        event["reasoning_tokens"] = event["output_tokens"] + rng.choice([0, 1])
    elif roll < 0.64 and kind == "outcome":
        event.update(quantity=3, currency="EUR", success=False)
    return event


def good_variant(rng: random.Random, event: dict[str, Any]) -> dict[str, Any]:
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        name = rng.choice(["user_id", "task_id", "request_id", "attributes", "schema_version", "time", "own"])
        if name == "attributes":
            event[name] = rng.choice([{}, {"team": "x"}, {"a b": "c d", "e": ""}])
        elif name == "schema_version":
            event[name] = 1
        elif name == "time":
            event["occurred_at"] = rng.choice(["2026-11-20T09:00:00+00:00", "2026-11-20T09:00:00.25Z"])
        elif name == "own":
            kind = event["kind"]
            if kind == "llm":
                event.update(cached_input_tokens=1, reasoning_tokens=rng.choice([0, 2]), cache_write_tokens=0)
            elif kind in ("compute", "storage"):
                event["seconds"] = rng.choice([5, "0.5", "12", 10**20])
            elif kind == "outcome":
                event.update(rng.choice([{"quantity": 2}, {"currency": "USD"}, {"success": True}]))
            elif kind == "tool":
                event.pop("calls", None)
        else:
            event[name] = rng.choice([None, f"{name}-1", "two words"])
    return event


ODD_BYTES = [
    b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\x1f", b"\x7f", b" ", b"\t", b"\n", b"\x0c", b",",
    b":", b"{", b"}", b"[", b"]", b'"', b"0", b"-", b".", b"e", b"\\", b"\xc3\xa9", b"\r",
]  # fmt: skip


def text_edits(rng: random.Random, value: bytes) -> bytes:
    """Byte-level damage: truncation, a key sent twice, an odd byte, whitespace, a kind sent twice."""
    roll = rng.random()
    if roll < 0.2:
        return value[: rng.randrange(len(value) + 1)]
    if roll < 0.35:
        keys = [
            k
            for k in (
                b'"event_id"',
                b'"agent_id"',
                b'"kind"',
                b'"customer_id"',
                b'"sku"',
                b'"input_tokens"',
                b'"a"',
            )
            if k in value
        ]
        if keys:
            key = rng.choice(keys)
            start = value.index(key)
            end = value.index(b",", start) if b"," in value[start:] else len(value)
            pair = value[start:end]
            return value[:start] + pair + b"," + value[start:]
        return value
    if roll < 0.55:
        at = rng.randrange(len(value) + 1)
        odd = rng.choice(ODD_BYTES)
        return value[:at] + odd + value[at:]
    if roll < 0.65:
        at = rng.randrange(len(value))
        return value[:at] + value[at + 1 :]
    if roll < 0.75:
        return value.replace(b",", b" ,\n\t", rng.randrange(1, 4)) + rng.choice(
            [b"", b" ", b"\n", b" x", b"\x00"]
        )
    if roll < 0.85:
        return value.replace(b'"kind":"tool"', b'"kind":"tool","kind":"tool"', 1)
    return value


def hostile_batch(rng: random.Random, size: int) -> tuple[list[bytes], list[bytes | None]]:
    values: list[bytes] = []
    keys: list[bytes | None] = []
    for m in range(size):
        events_of = [hostile_event(rng, m * 100 + i) for i in range(rng.choice([0, 1, 1, 2, 3, 5, 8]))]
        value = json.dumps(events_of, ensure_ascii=False, separators=(",", ":")).encode()  # big ints too
        if rng.random() < 0.2:
            value = text_edits(rng, value)
        roll = rng.random()
        if roll < 0.05:
            value = rng.choice(
                [
                    b"",
                    b"[]",
                    b"[ ]",
                    b"[]\n",
                    b" []",
                    b"{}",
                    b"null",
                    b"[1]",
                    b"[{}]",
                    b"[[]]",
                    b"[{},]",
                    b"[" + value,
                ]
            )
        values.append(value)
        key = rng.choice(
            [b"acme"] * 40 + [None, b"", b"other", b"acme\xff", b"acme\x00", b" acme", "é".encode()]
        )
        keys.append(key)
    return values, keys


@pytest.mark.parametrize("seed", range(150))
def test_a_hostile_corpus_reads_alike(native: ModuleType, seed: int) -> None:
    rng = random.Random(seed)
    values, keys = hostile_batch(rng, rng.choice([1, 3, 10, 40]))
    check(native, values, keys)
    if seed % 3 == 0:  # with bounds around the sample day
        full, _ = decode_batch_python(values, keys, None)
        around = int(np.median(full.occurred_us)) if len(full) else 0
        low = np.full(len(values), around - rng.choice([0, 1, 10**9]), np.int64)
        high = np.full(len(values), around + rng.choice([0, 1, 10**9]), np.int64)
        check(native, values, keys, (low, high))


@pytest.mark.parametrize("seed", range(20))
def test_mostly_good_batches_with_a_few_hostile_messages_read_alike(native: ModuleType, seed: int) -> None:
    # Few messages with strings left over (optional fields, keys sent twice) against many plain ones:
    # the Python path searches the few messages' text, the native one reads every event.
    rng = random.Random(1000 + seed)
    plain = [
        orjson.dumps([usage(f"p{m}-{i}", rng.choice(["llm", "tool", "compute"])) for i in range(3)])
        for m in range(40)
    ]
    values, _ = hostile_batch(rng, rng.choice([1, 2, 5]))
    mixed = [*plain, *values]
    rng.shuffle(mixed)
    check(native, mixed, [b"acme"] * len(mixed))


def test_a_bad_customer_name_anywhere_declines_every_message_alike(native: ModuleType) -> None:
    good = orjson.dumps([usage("a1")])
    bad = orjson.dumps([usage("b1", customer=" acme")])
    _, slow = check(native, [good, bad, good], [b"acme", b" acme", b"acme"])
    assert slow == [0, 1, 2]
    # Also where the bad name's message has a key sent twice (msgspec still read it).
    twice = bad.replace(b'"agent_id"', b'"agent_id":"x","agent_id"', 1)
    _, slow = check(native, [good, twice], [b"acme", b" acme"])
    assert slow == [0, 1]


def test_text_that_is_not_utf8_declines_its_message_alike(native: ModuleType) -> None:
    # msgspec raises UnicodeDecodeError (not a DecodeError) for such a string: declined, not raised.
    good = orjson.dumps([usage("a1")])
    for bad in (good.replace(b'"a1"', b'"a\xff"'), good.replace(b'"acme"', b'"acme\xed\xa0\x80"'),
                orjson.dumps([usage("b1", attributes={"k": "v"})]).replace(b'"k"', b'"\xc3"')):  # fmt: skip
        _, slow = check(native, [good, bad], [b"acme", b"acme"])
        assert slow == [1]


@pytest.mark.parametrize(
    ("amount", "declined"),
    [(b"9" * 4300, False), (b"9" * 4301, True), (b"-" + b"9" * 4299, False), (b"-" + b"9" * 4300, True)],
)
@pytest.mark.parametrize("max_digits", [None, 640])
def test_huge_integer_amounts_read_or_decline_alike(
    native: ModuleType, amount: bytes, declined: bool, max_digits: int | None
) -> None:
    # msgspec refuses more than 4300 characters, and more digits than Python's int takes from text.
    before = sys.get_int_max_str_digits()
    if max_digits is not None:
        sys.set_int_max_str_digits(max_digits)
    try:
        sent = orjson.dumps([usage("a1", "compute", sku="x", seconds=1)])
        value = sent.replace(b'"seconds":1', b'"seconds":' + amount)
        _, slow = check(native, [value], [b"acme"])
    finally:
        sys.set_int_max_str_digits(before)
    assert slow == ([0] if declined or max_digits is not None else [])


def test_objects_nested_too_deep_decline_their_message_alike(native: ModuleType) -> None:
    # msgspec raises RecursionError past its depth: declined, not raised.
    good = orjson.dumps([usage("a1")])
    for deep in (b"[" + b'{"a":' * 5000, b'[{"attributes":' + b'{"a":' * 5000, b"[" * 100_000):
        _, slow = check(native, [good, deep], [b"acme", b"acme"])
        assert slow == [1]


@pytest.mark.parametrize("extra", [0, 1])
def test_messages_past_the_event_limit_decline_alike(
    native: ModuleType, monkeypatch: pytest.MonkeyPatch, extra: int
) -> None:
    limit = 50
    monkeypatch.setattr(wire_columns, "MAX_EVENTS_PER_MESSAGE", limit)
    monkeypatch.setattr(
        wire_columns, "_LIMITS", (*wire_columns._LIMITS[:3], limit, *wire_columns._LIMITS[4:])
    )
    value = orjson.dumps([usage(f"e{i}") for i in range(limit + extra)])
    _, slow = check(native, [value, orjson.dumps([usage("x")])], [b"acme"] * 2)
    assert slow == ([0] if extra else [])
    assert wire_columns._LIMITS[3] == limit != MAX_EVENTS_PER_MESSAGE


def test_the_native_decoder_never_raises_on_random_bytes(native: ModuleType) -> None:
    rng = random.Random(7)
    alphabet = b'[]{}",:0123456789-.eE tfnrulasxkind\xff\xc3\x00\n'
    values = [b"[" + bytes(rng.choice(alphabet) for _ in range(rng.randrange(40))) for _ in range(2000)]
    check(native, values, [b"acme"] * len(values))


def test_a_native_scan_that_panicked_decodes_the_batch_in_python() -> None:
    # The scan answers None where it caught a panic of its own (a bug): the batch is decoded in Python.
    values = [orjson.dumps([usage("a1")]), b"[", orjson.dumps([usage("b1", "llm")])]
    panicked = ModuleType("panicked")
    panicked.scan = lambda *_: None  # type: ignore[attr-defined]
    found, slow = wire_columns._decode_native(panicked, values, [b"acme"] * 3, None)
    expected, expected_slow = decode_batch_python(values, [b"acme"] * 3, None)
    assert slow == expected_slow == [1]
    assert_same(found, expected)
