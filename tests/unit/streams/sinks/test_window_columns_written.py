"""The windows' columns are written as the same bytes as their rows, at int64's edges and past them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from streams.aggregation import WindowAggregate, WindowKey, fold
from streams.sinks.clickhouse_sink import WINDOW_COLUMNS, window_row
from streams.sinks.native_block import WRITERS
from streams.sinks.table_columns import WINDOW_TYPES, units, window_columns
from tests.unit.streams.sinks.test_table_columns import a_mixed_batch

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
KEY = WindowKey("acme", "*", "llm", 60, 1_000_020)


def written(windows: list[tuple[WindowKey, WindowAggregate]]) -> dict[str, bytes]:
    columns = window_columns(windows, NOW)
    return {name: WRITERS[kind](columns[name]) for name, kind in WINDOW_TYPES.items()}


def written_from_rows(windows: list[tuple[WindowKey, WindowAggregate]]) -> dict[str, bytes]:
    rows = zip(*[window_row(k, a, NOW) for k, a in windows], strict=True)
    columns = dict(zip(WINDOW_COLUMNS, map(list, rows), strict=True))
    columns["window_start"] = [int(at.timestamp()) for at in columns["window_start"]]
    columns["quantity"] = units(columns["quantity"])
    return {name: WRITERS[kind](columns[name]) for name, kind in WINDOW_TYPES.items()}


def test_a_batchs_windows_are_written_as_their_rows_are() -> None:
    windows = list(fold(a_mixed_batch(), (60, 3600), {}).changed.items())
    assert written(windows) == written_from_rows(windows)


def test_sums_past_int64_and_negative_money_are_written_as_their_rows_are() -> None:
    windows = [
        (KEY, WindowAggregate(cost=-5, events=2**63, quantity=Decimal("1.5"), last_offset=9, partition=2)),
        (
            KEY._replace(agent_id="bot"),
            WindowAggregate(cost=2**70, outcome_value=-(2**64), last_offset=0, partition=65_535),
        ),
    ]
    assert written(windows) == written_from_rows(windows)
    assert written(windows[:1]) == written_from_rows(windows[:1])


@pytest.mark.parametrize(
    "aggregate",
    [
        WindowAggregate(events=-1, last_offset=0, partition=0),
        WindowAggregate(last_offset=0, partition=65_536),
        WindowAggregate(events=2**64, last_offset=0, partition=0),
        WindowAggregate(last_offset=-1, partition=0),
    ],
)
def test_values_their_columns_cannot_hold_are_refused(aggregate: WindowAggregate) -> None:
    with pytest.raises(OverflowError):
        written([(KEY, aggregate)])
