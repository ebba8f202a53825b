"""Messages read and priced as columns give what the per-event path gives, object for object."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
import pytest

from bench.workload import events, pack
from schemas.dead_letters import DeadLetterCode
from schemas.prices import PriceVersion, load_price_dir
from streams import intake
from streams.decoding import TimeBounds
from streams.intake import decode_and_price
from streams.pricing import PriceCatalog, TokenUsage
from streams.processor import RawMessage
from streams.sinks.clickhouse_sink import _written
from streams.sinks.table_columns import LEDGER_TYPES, ledger_columns
from streams.window_batch import Coded, CountedBatch, EventColumns, TokenColumns, fold_plan, plan_windows
from streams.wire_events import whole_decimals
from tests.factories import DAY, PRICES, usage
from tests.unit.streams.sinks.test_native_block import decoded as read_back

# Every test runs against the Python decoder and the native one (tests/unit/streams/conftest.py).
pytestmark = pytest.mark.usefixtures("wire_decoder")

NOW = datetime(2026, 12, 5, tzinfo=UTC)
BOUNDS = TimeBounds(max_age_s=3600.0, max_future_s=300.0)
RECEIVED_MS = int((DAY + timedelta(minutes=30)).timestamp() * 1000)


def message(offset: int, key: bytes, value: bytes | list[dict[str, Any]], partition: int = 3) -> RawMessage:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    return RawMessage("usage", partition, offset, key, raw, RECEIVED_MS)


def fleet(first: int = 0, partition: int = 3) -> list[RawMessage]:
    packed = pack(events(300, customers=6, agents=3, span_s=600.0), 15)
    return [message(first + i, key, value, partition) for i, (key, value) in enumerate(packed)]


def odd(first: int) -> list[RawMessage]:
    """Messages the columns decline (the per-event path reads them and writes their dead letters),
    then one they admit, with optional ids and attributes."""
    at = DAY + timedelta(minutes=5)
    return [
        message(first, b"acme", [usage("ok", at=at), usage("x", at=at, customer="globex")]),  # wrong key
        message(first + 1, b"acme", b"{not json"),
        message(first + 2, b"acme", [usage("tier", "llm", at=at, service_tier="flex")]),
        message(first + 3, b"acme", [usage("late", at=DAY - timedelta(days=2))]),
        message(first + 4, b"acme", [usage("pigeon", at=at, tool="carrier-pigeon")]),  # no price
        message(
            first + 5, b"acme", [usage("ids", at=at, user_id="u-1", task_id="t-1", attributes={"a": "b"})]
        ),
    ]


def per_event(messages: list[RawMessage], catalog: PriceCatalog) -> tuple[list[Any], list[Any]]:
    counted, dead, _ = intake._per_event(messages, catalog, BOUNDS, NOW)
    return list(counted), dead


def same_objects(left: list[Any], right: list[Any]) -> bool:
    """Equal, and alike where equality does not look: Decimal forms (repr) and the fields sent."""
    return left == right and all(
        repr(a) == repr(b) and a[2].event.model_fields_set == b[2].event.model_fields_set
        for a, b in zip(left, right, strict=True)
    )


def catalog() -> PriceCatalog:
    return PriceCatalog(load_price_dir(PRICES))


def test_a_fleet_is_read_as_columns_into_the_objects_the_per_event_path_builds() -> None:
    messages = fleet()
    prices = catalog()
    found = intake._columnar(messages, prices, BOUNDS)
    assert found is not None and found[2] == []  # every message admitted
    counted, dead = decode_and_price(messages, prices, BOUNDS, NOW)
    expected, expected_dead = per_event(messages, prices)
    assert same_objects(list(counted), expected) and dead == expected_dead == []


def test_declined_messages_keep_their_places_and_their_dead_letters() -> None:
    messages = fleet(0)[:5] + odd(5) + fleet(11, partition=4)[:5]
    prices = catalog()
    counted, dead = decode_and_price(messages, prices, BOUNDS, NOW)
    expected, expected_dead = per_event(messages, prices)
    assert same_objects(list(counted), expected)
    assert [(d.code, d.source_offset, d.source_index, d.reason) for d in dead] == [
        (d.code, d.source_offset, d.source_index, d.reason) for d in expected_dead
    ]
    assert len(dead) == 4


def test_a_key_that_is_not_utf8_gives_the_per_event_paths_dead_letter() -> None:
    at = DAY + timedelta(minutes=5)
    messages = [
        message(0, b"acme\xff", [usage("odd", at=at, customer="acme\ufffd")]),
        *fleet(1)[:3],
    ]
    prices = catalog()
    counted, dead = decode_and_price(messages, prices, BOUNDS, NOW)
    expected, expected_dead = per_event(messages, prices)
    assert same_objects(list(counted), expected)
    assert [(d.code, d.source_offset, d.reason) for d in dead] == [
        (d.code, d.source_offset, d.reason) for d in expected_dead
    ]
    assert [d.code for d in dead] == [DeadLetterCode.WRONG_KEY]


def test_whole_counts_become_the_decimals_pricing_makes_from_the_table_and_past_it() -> None:
    counts = [0, 1, 7, 2**15 - 1, 2**15, 40_000, 10**15, -1]
    for column in (np.array(counts, np.int64), np.array([2**70, *counts], dtype=object)):
        found = whole_decimals(column)
        assert found.dtype == object
        assert [repr(d) for d in found] == [repr(Decimal(int(c))) for c in column]
    assert whole_decimals(np.zeros(0, np.int64)).tolist() == []


def test_quantities_of_calls_past_the_decimal_table_are_the_per_event_paths() -> None:
    at = DAY + timedelta(minutes=5)
    sent = [
        usage("small", "llm", at=at, input_tokens=100, output_tokens=20),
        usage("large", "llm", at=at, input_tokens=40_000, output_tokens=2_000),
        usage("tool", at=at, calls=3),
    ]
    messages = [message(0, b"acme", sent)]
    prices = catalog()
    counted, _ = decode_and_price(messages, prices, BOUNDS, NOW)
    expected, _ = per_event(messages, prices)
    assert same_objects(list(counted), expected)
    columns = EventColumns.of(counted)
    assert [repr(q) for q in columns.quantities] == [repr(p.quantity) for _, _, p in expected]
    assert [repr(q) for q in columns.quantities] == ["Decimal('120')", "Decimal('42000')", "Decimal('3')"]


def test_storage_priced_once_a_distinct_size_and_period_is_priced_as_each_alone() -> None:
    at = DAY + timedelta(minutes=5)
    sizes_and_seconds = [
        (11 * 10**9, "3600"), (7, "1"), (11 * 10**9, "3600"), (10**16, "9000000"), (7, "1"),
        (123_456_789, "0.000000000001"), (11 * 10**9, "3599.5"), (0, "60"), (123_456_789, 86_400),
        (11 * 10**9, 3600),
    ]  # fmt: skip
    sent = [
        usage(f"s{i}", "storage", at=at, sku="s3-standard", bytes=size, seconds=seconds)
        for i, (size, seconds) in enumerate(sizes_and_seconds)
    ]
    messages = [message(0, b"acme", sent[:6]), message(1, b"acme", sent[6:])]
    prices = catalog()
    found = intake._columnar(messages, prices, BOUNDS)
    assert found is not None and found[2] == []  # priced as columns
    counted, dead = decode_and_price(messages, prices, BOUNDS, NOW)
    expected, _ = per_event(messages, prices)
    assert same_objects(list(counted), expected) and dead == []
    columns = EventColumns.of(counted)
    assert [repr(c) for c in columns.decimal_costs] == [repr(p.cost) for _, _, p in expected]
    assert [repr(q) for q in columns.quantities] == [repr(p.quantity) for _, _, p in expected]


def test_amounts_past_int64s_units_take_the_per_event_path_priced_as_it_prices_them() -> None:
    # 10,000,000 s is 1e19 units of 1e-12: past int64, within the contract's 366 days.
    at = DAY + timedelta(minutes=5)
    messages = [
        message(0, b"acme", [usage("c1", "compute", at=at, sku="fargate-1vcpu-2gb", seconds="10000000")]),
        message(
            1, b"acme", [usage("s1", "storage", at=at, sku="s3-standard", bytes=10**16, seconds=31_622_400)]
        ),
        message(2, b"acme", [usage("c2", "compute", at=at, sku="fargate-1vcpu-2gb", seconds="9000000")]),
    ]
    prices = catalog()
    found = intake._columnar(messages, prices, BOUNDS)
    assert found is not None and found[2] == [0, 1]  # left to the per-event path, not an error
    counted, dead = decode_and_price(messages, prices, BOUNDS, NOW)
    expected, expected_dead = per_event(messages, prices)
    assert same_objects(list(counted), expected) and dead == expected_dead == []
    assert [p.event.event_id for _, _, p in counted] == ["c1", "s1", "c2"]


def test_the_columns_and_the_ledger_rows_are_those_read_from_the_objects() -> None:
    messages = fleet(0)[:8] + odd(8)
    counted, _ = decode_and_price(messages, catalog(), BOUNDS, NOW)
    taken = EventColumns.of(counted)
    walked = EventColumns.of(list(counted))
    for name in EventColumns.__slots__:
        if name not in ("counted", "utc_times"):
            assert _values(getattr(taken, name)) == _values(getattr(walked, name)), name
    assert not taken.utc_times  # some messages took the per-event path, whose times may have any offset
    from_columns = ledger_columns(taken.counted, NOW, taken)
    from_objects = ledger_columns(list(counted), NOW)
    assert from_columns.keys() == from_objects.keys()
    for name, column in from_objects.items():
        assert _values(from_columns[name]) == _values(column), name


def test_a_negotiated_catalog_prices_every_event_the_per_event_way() -> None:
    prices = catalog()
    prices.add(
        PriceVersion.model_validate(
            {"version": "acme-15-off", "effective_from": "2026-01-01T00:00:00Z", "layer": "negotiated",
             "prices": [], "discounts": {"anthropic": "0.15"}}
        )
    )  # fmt: skip
    messages = fleet()
    assert intake._columnar(messages, prices, BOUNDS) is None  # its discounts are the Decimal path's
    counted, _ = decode_and_price(messages, prices, BOUNDS, NOW)
    assert same_objects(list(counted), per_event(messages, prices)[0])


def _values(column: Any) -> list[Any] | None:
    """A column's values as a list; LedgerFacts' as a list of its columns'; None (codes a later stage
    fills) as it is."""
    if column is None:
        return None
    if hasattr(column, "tolist"):
        return list(column.tolist())
    return [_values(c) for c in column] if type(column).__name__ == "LedgerFacts" else list(column)


def test_windows_and_ledger_rows_of_admitted_events_need_none_of_their_objects() -> None:
    counted, _ = decode_and_price(fleet(), catalog(), BOUNDS, NOW)
    batch = EventColumns.of(counted).select(np.arange(len(counted)) % 3 != 0)  # as dedup cuts it
    plan = plan_windows(batch, (60, 3600))
    assert fold_plan(plan, [None] * len(plan.keys)) is not None
    ledger_columns(batch.counted, NOW, batch)
    assert type(batch.counted) is CountedBatch and not batch.counted.made
    assert list(batch.counted) == [c for i, c in enumerate(per_event(fleet(), catalog())[0]) if i % 3]
    assert batch.counted.made  # made once something reads them


def test_the_ledger_block_written_from_pricings_numbers_is_the_one_written_from_the_objects() -> None:
    for messages in (fleet(), fleet(0)[:8] + odd(8)):
        counted, _ = decode_and_price(messages, catalog(), BOUNDS, NOW)
        taken = EventColumns.of(counted)
        objects = list(counted)
        assert (taken.ledger.price_codes is not None) == (len(messages) == len(fleet()))  # merged: none
        assert type(taken.counted) is CountedBatch
        for where in (slice(0, len(objects)), slice(7, 150)):
            from_columns = ledger_columns(taken.counted.view(where), NOW, taken, where)
            from_objects = ledger_columns(objects[where], NOW)
            assert_same_rows(from_columns, from_objects, len(objects[where]))


def test_the_ledger_block_of_events_dedup_kept_is_the_one_written_from_their_objects() -> None:
    counted, _ = decode_and_price(fleet(), catalog(), BOUNDS, NOW)
    kept = EventColumns.of(counted).select(np.arange(len(counted)) % 3 != 0)
    assert kept.ledger.price_codes is not None and kept.ledger.quantity_units is not None
    from_columns = ledger_columns(kept.counted, NOW, kept)
    assert_same_rows(from_columns, ledger_columns(list(kept.counted), NOW), len(kept))


def assert_same_rows(from_columns: Any, from_objects: Any, rows: int) -> None:
    """The two blocks' columns are the same bytes, but LowCardinality ones written from codes (a
    dictionary in another order, or with keys no row uses): those read back as the same rows."""
    for (name, kind), ours, theirs in zip(
        LEDGER_TYPES.items(),
        _written(from_columns, LEDGER_TYPES),
        _written(from_objects, LEDGER_TYPES),
        strict=True,
    ):
        if kind == "LowCardinality(String)":
            assert read_back(kind, ours, rows) == read_back(kind, theirs, rows), name
        else:
            assert ours == theirs, name


def test_windows_planned_from_pricings_token_array_are_those_planned_from_the_objects() -> None:
    counted, _ = decode_and_price(fleet(), catalog(), BOUNDS, NOW)
    taken = EventColumns.of(counted)
    assert type(taken.tokens) is TokenColumns
    walked = EventColumns.of(list(counted))
    for left, right in ((taken, walked), (taken.select(np.arange(len(taken)) % 4 != 1), None)):
        right = right or EventColumns.of(list(left.counted))
        found, expected = plan_windows(left, (60, 3600)), plan_windows(right, (60, 3600))
        assert found.keys == expected.keys and (found.sums == expected.sums).all()
        assert [str(q) for q in found.quantities] == [str(q) for q in expected.quantities]


def test_token_columns_are_the_token_usage_of_each_row() -> None:
    array = np.array([[5, 1, 0, 7, 2], [0, 0, 0, 0, 0], [9, 0, 0, 0, 0]], np.int64)
    tokens = TokenColumns(array)
    assert list(tokens) == [TokenUsage(5, 1, 0, 7, 2), TokenUsage(), TokenUsage(9)]
    assert tokens[2] == TokenUsage(9) and len(tokens) == 3
    assert list(tokens[1:]) == [TokenUsage(), TokenUsage(9)] and type(tokens[1:]) is TokenColumns
    assert tokens.inference() == [12, 0, 9]


def test_a_coded_column_is_its_values_row_by_row() -> None:
    column = Coded(np.array([2, 0, 2, 1], np.int64), ("a", "b", "c"))
    assert list(column) == ["c", "a", "c", "b"] and column[3] == "b" and len(column) == 4
    assert list(column[1:3]) == ["a", "c"] and type(column[1:3]) is Coded


def test_a_coded_column_read_whole_holds_its_values_objects_whatever_they_are() -> None:
    names, pairs = ["x" * 30, "y" * 30], (("a", 1), ("b", 2))
    named = list(Coded(np.array([1, 1, 0], np.int64), names))
    assert named == [names[1], names[1], names[0]] and named[0] is names[1]
    assert list(Coded(np.array([1, 0], np.int64), pairs)) == [("b", 2), ("a", 1)]  # not split as rows
    assert list(Coded(np.zeros(0, np.int64), ())) == []


def test_outcome_types_are_codes_of_the_price_combinations_where_no_combination_is_shared() -> None:
    combos = [("llm", "openai", "gpt-4o"), ("outcome", "", "ticket_resolved"), ("tool", "x", "search")]
    codes = np.array([0, 1, 2, 1, 0], np.int64)
    priced: Any = SimpleNamespace(combo=codes, combos=combos)
    types = intake._outcome_types(priced, np.array([1, 3], np.int64), 5)
    assert type(types) is Coded
    assert list(types) == ["", "ticket_resolved", "", "ticket_resolved", ""]
    # A combination of an outcome's also another row's (not an outcome): the rows as a list.
    types = intake._outcome_types(priced, np.array([1], np.int64), 5)
    assert type(types) is list and types == ["", "ticket_resolved", "", "", ""]
