"""Inserts are cut so that none hits ClickHouse's partition or size limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streams.sinks.clickhouse_sink import MAX_MONTHS_PER_INSERT, MAX_ROWS_PER_INSERT, insert_chunks


def month_rows(months: int, per_month: int = 1) -> list[list[Any]]:
    return [
        [f"e{m}-{i}", datetime(2000 + m // 12, 1 + m % 12, 1, tzinfo=UTC)]
        for m in range(months)
        for i in range(per_month)
    ]


def month_of(row: Any) -> datetime:
    return row[1]  # type: ignore[no-any-return]


def test_a_batch_of_one_month_is_one_insert() -> None:
    rows = month_rows(1, per_month=500)
    assert [len(chunk) for chunk in insert_chunks(rows, month_of)] == [500]


def test_events_spread_over_101_months_never_share_an_insert_past_the_limit() -> None:
    rows = month_rows(101, per_month=3)
    chunks = list(insert_chunks(rows, month_of))
    assert len(chunks) == 2
    assert all(len({(r[1].year, r[1].month) for r in c}) <= MAX_MONTHS_PER_INSERT for c in chunks)
    assert sorted(r[0] for c in chunks for r in c) == sorted(r[0] for r in rows)


def test_a_huge_batch_is_cut_by_rows_too() -> None:
    rows = month_rows(1, per_month=MAX_ROWS_PER_INSERT + 5)
    assert [len(c) for c in insert_chunks(rows, month_of)] == [MAX_ROWS_PER_INSERT, 5]
    assert [len(c) for c in insert_chunks(rows, None)] == [MAX_ROWS_PER_INSERT, 5]
