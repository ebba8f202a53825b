"""A batch's windows as columns are the same windows, records and store as their objects."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from streams.aggregation import WindowAggregate, WindowKey, fold
from streams.sinks.clickhouse_sink import written_column
from streams.sinks.native_block import WRITERS
from streams.sinks.table_columns import WINDOW_TYPES, window_change_columns, window_columns
from streams.window_batch import EventColumns, fold_plan, plan_windows
from streams.window_changes import WindowChanges
from streams.window_state import TableState
from tests.unit.streams.sinks.test_native_block import decoded
from tests.unit.streams.test_window_batch import SIZES, fleet
from tests.unit.streams.test_window_state import FakeTable

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def folded(partitions: int = 1, onto: dict[WindowKey, WindowAggregate] | None = None) -> WindowChanges:
    """The second 300 events of a fleet, each customer's on one of ``partitions``, folded whole."""
    batch = [
        (sum(priced.event.customer_id.encode()) % partitions, at, priced)
        for _, at, priced in fleet(300, 7200.0, first_offset=300)
    ]
    plan = plan_windows(EventColumns.of(batch), SIZES)
    result = fold_plan(plan, [(onto or {}).get(key) for key in plan.keys])
    assert result is not None and type(result.changed) is WindowChanges
    return result.changed


def test_the_columns_are_the_event_by_event_folds_windows_and_records() -> None:
    earlier = fold(fleet(300, 7200.0), SIZES, {}).changed
    changes = folded(onto=dict(earlier))
    later = fold(fleet(300, 7200.0, first_offset=300), SIZES, earlier).changed
    assert changes == later
    assert changes.records() == [later[key].encode() for key in changes]
    assert changes.raw_keys == [key.encode() for key in changes]


def test_a_quantity_keeps_its_decimal_text_in_the_record() -> None:
    key = WindowKey("acme", "bot", "compute", 60, 0)
    quantity = Decimal("1.500000000000")
    columns: list[list[object]] = [[7], [1], [quantity], [0], [0], [0], [0], [0], [2**70], [0], [9], [2]]
    changes = WindowChanges([key], [key.encode()], columns)
    assert changes.records() == [
        WindowAggregate(7, 1, quantity, outcome_value=2**70, last_offset=9, partition=2).encode()
    ]


def test_windows_put_as_columns_are_stored_changelogged_and_expired_as_their_objects() -> None:
    changes = folded(partitions=3)
    assert set(changes.partitions()) == {0, 1, 2}
    by_columns, by_objects = FakeTable(), FakeTable()
    states = [TableState(table, retention={60: 600, 3600: 0}) for table in (by_columns, by_objects)]
    states[0].put_many(changes, changes.raw_keys)
    states[1].put_many(dict(changes.objects()), changes.raw_keys)
    for state in states:
        asyncio.run(state.flush())
    assert by_columns.data == by_objects.data and list(by_columns.data) == list(by_objects.data)
    assert by_columns.changelog == by_objects.changelog
    for state in states:
        for partition in range(3):
            state.set_watermark(partition, 2**40)
    assert [asyncio.run(state.expire(assigned={0, 1, 2})) for state in states] == [len(changes)] * 2
    assert by_columns.changelog == by_objects.changelog


def test_the_native_columns_of_windows_as_columns_are_those_of_their_rows() -> None:
    rows = folded(partitions=2).rows()
    assert len(rows[10:25]) == 15 and list(rows[10:25]) == list(rows)[10:25]
    for part in (rows, rows[3:40]):
        assert part.key_columns() is not None  # the key names written from their codes
        columns, expected = window_change_columns(part, NOW), window_columns(list(part), NOW)
        for name, kind in WINDOW_TYPES.items():
            written, of_rows = written_column(kind, columns[name]), WRITERS[kind](expected[name])
            if kind == "LowCardinality(String)":  # a dictionary in the codes' order: the same rows
                assert decoded(kind, written, len(part)) == decoded(kind, of_rows, len(part)), name
                assert decoded(kind, written, len(part)) == list(expected[name]), name
            else:
                assert written == of_rows, name
