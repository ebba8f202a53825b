"""The sink's faster writers put the same bytes on the wire as clickhouse-connect's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal
from typing import Any

import pytest
from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.insert import InsertContext

from schemas.money import to_pico
from streams.sinks.column_types import ExactDecimal, PicoDecimal, datetime_ticks, insert_type

AMOUNTS = [
    Decimal("0"),
    Decimal("-0"),
    Decimal("0.000000000001"),
    Decimal("1.5"),
    Decimal("12.345678901234"),
    Decimal("-3.000000000007"),
    Decimal("999999999999999.999999999999"),
    Decimal("1E+3"),
    Decimal("0.0000000000019"),  # finer than the column: truncated, as the library truncates
    Decimal("-0.0000000000019"),
    Decimal("26.1234567890123456789"),
    Decimal("-0.500000000000"),
    Decimal("5.000000000000"),
    Decimal("0E-12"),
    Decimal("1.00000000000E+3"),
    Decimal("1234567890123456789012345.123456789012"),
    7,
]


def written(column_type: Any, values: list[Any]) -> bytes:
    dest = bytearray()
    context = InsertContext("t", ["c"], [column_type])
    column_type.write_column(values, dest, context)
    return bytes(dest)


@pytest.mark.parametrize("name", ["Decimal(38, 12)", "Decimal(76, 20)", "Decimal(38, 0)"])
def test_a_cost_column_is_written_to_the_same_bytes(name: str) -> None:
    library = get_from_name(name)
    ours = insert_type(library)
    assert isinstance(ours, ExactDecimal)
    assert written(ours, AMOUNTS) == written(library, AMOUNTS)


def test_a_window_cost_in_pico_dollars_is_written_as_the_same_amount_in_usd() -> None:
    library = get_from_name("Decimal(38, 12)")
    # 38 digits: the default context's 28 cannot hold the column's largest amounts at scale 12.
    wide = Context(prec=38)
    at_scale = [
        a for a in AMOUNTS if isinstance(a, Decimal) and a == a.quantize(Decimal("1e-12"), context=wide)
    ]
    picos = [to_pico(a) for a in at_scale]
    assert written(PicoDecimal.of(library), picos) == written(library, at_scale)


def test_a_pico_dollar_column_must_have_the_ledgers_scale() -> None:
    for name in ("Decimal(76, 20)", "Decimal(38, 0)", "UInt64"):
        with pytest.raises(ValueError, match="pico-dollar column"):
            PicoDecimal.of(get_from_name(name))


def test_a_nullable_outcome_value_keeps_its_nulls() -> None:
    library = get_from_name("Nullable(Decimal(38, 12))")
    values = [None, Decimal("2.5"), None, Decimal("0"), Decimal("7.000000000001")]
    assert written(insert_type(library), values) == written(library, values)


def test_other_columns_keep_the_library_type() -> None:
    for name in ("String", "LowCardinality(String)", "Decimal(18, 6)", "DateTime64(6, 'UTC')", "UInt64"):
        column = get_from_name(name)
        assert insert_type(column) is column


@pytest.mark.parametrize("name", ["DateTime64(6, 'UTC')", "DateTime64(3, 'UTC')", "DateTime64(9, 'UTC')"])
def test_times_become_the_ticks_the_library_would_write(name: str) -> None:
    column = get_from_name(name)
    start = datetime(2026, 11, 20, 23, 59, 59, 999_999, tzinfo=UTC)
    times = [start + timedelta(microseconds=7 * i) for i in range(1000)]
    times += [datetime(1970, 1, 1, tzinfo=UTC), datetime(2099, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)]
    ticks = datetime_ticks(column, times)
    assert written(column, list(ticks)) == written(column, times)
    same = [start] * 5  # one time for a whole column, as ingested_at is
    assert written(column, list(datetime_ticks(column, same))) == written(column, same)


def test_values_that_are_not_times_are_left_to_the_library() -> None:
    column = get_from_name("DateTime64(6, 'UTC')")
    assert datetime_ticks(column, [5, 6]) == [5, 6]
    assert datetime_ticks(get_from_name("String"), ["a"]) == ["a"]
