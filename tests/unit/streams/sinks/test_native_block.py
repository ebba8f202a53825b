"""Each column the sink writes itself is the bytes clickhouse-connect's own writer puts in a Native block."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.insert import InsertContext
from clickhouse_connect.driver.query import QueryContext
from clickhouse_connect.driverc.buffer import ResponseBuffer

from schemas.money import to_pico
from streams.sinks.native_block import WRITERS, block, leb128, low_cardinality_group
from streams.sinks.table_columns import units

START = datetime(2026, 11, 20, 23, 59, 59, 999_999, tzinfo=UTC)
AMOUNTS = [
    Decimal("0"),
    Decimal("-0"),
    Decimal("0.000000000001"),
    Decimal("-3.000000000007"),
    Decimal("99999999999999999999999999.999999999999"),
    Decimal("-99999999999999999999999999.999999999999"),
    Decimal("9223372.036854775807"),  # int64's largest in units, and one past it
    Decimal("9223372.036854775808"),
    Decimal("1E+3"),
    Decimal("5.000000000000"),
]
TEXTS = ["", "acme", "naïve-ü-😀", "x" * 127, "y" * 128, "ü" * 256, "acme", ""]
COLUMNS: dict[str, list[Any]] = {
    "String": TEXTS,
    "LowCardinality(String)": TEXTS,
    "UInt16": [0, 1, 65_535, 7],
    "UInt32": [0, 4_294_967_295, 60],
    "UInt64": [0, 2**64 - 1, 3621, 0],
    "Bool": [True, False, True],
    "Map(String, String)": [{}, {"k": "v", "ü": ""}, {}, {"a": "b" * 300}],
    "DateTime('UTC')": [START - timedelta(seconds=n) for n in range(5)],
    "DateTime64(3, 'UTC')": [START - timedelta(microseconds=999 * n) for n in range(50)],
    "DateTime64(6, 'UTC')": [START - timedelta(microseconds=7 * n) for n in range(50)]
    + [datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC), datetime(2099, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)],
}


def library(type_name: str, values: list[Any]) -> bytes:
    dest = bytearray()
    column_type = get_from_name(type_name)
    column_type.write_column(values, dest, InsertContext("t", ["c"], [column_type]))
    return bytes(dest)


class _Chunks:
    """A response of one chunk, as clickhouse-connect's reader takes one."""

    def __init__(self, data: bytes) -> None:
        self.gen = iter([data])
        self.last_message = None

    def close(self) -> None:
        pass


def decoded(type_name: str, data: bytes, rows: int) -> list[Any]:
    """A Native column's values as clickhouse-connect's reader reads them (what ClickHouse would store)."""
    column_type = get_from_name(type_name)
    return list(column_type.read_column(ResponseBuffer(_Chunks(data)), rows, QueryContext()))


@pytest.mark.parametrize("type_name", COLUMNS)
def test_a_column_is_the_librarys_bytes(type_name: str) -> None:
    values = COLUMNS[type_name]
    assert WRITERS[type_name](values) == library(type_name, values)


@pytest.mark.parametrize("type_name", ["String", "LowCardinality(String)", "UInt64", "Bool"])
def test_a_column_of_one_value_is_the_librarys_bytes(type_name: str) -> None:
    values = [COLUMNS[type_name][1]] * 1000
    assert WRITERS[type_name](values) == library(type_name, values)


@pytest.mark.parametrize(
    ("type_name", "value"),
    [
        ("Decimal(38, 12)", Decimal(0)),
        ("Decimal(38, 12)", Decimal("-7.5")),
        ("Nullable(Decimal(38, 12))", None),
    ],
)
def test_a_money_column_of_one_amount_is_the_librarys_bytes(type_name: str, value: Decimal | None) -> None:
    ours = [None if value is None else units([value])[0]] * 1000
    assert WRITERS[type_name](ours) == library(type_name, [value] * 1000)


def test_rows_without_attributes_are_the_librarys_bytes() -> None:
    assert WRITERS["Map(String, String)"]([{}] * 100) == library("Map(String, String)", [{}] * 100)


def test_a_dictionary_past_256_strings_has_wider_indexes() -> None:
    values = [f"bot-{n % 300}" for n in range(1000)]
    assert WRITERS["LowCardinality(String)"](values) == library("LowCardinality(String)", values)


def test_money_in_units_is_the_librarys_decimal() -> None:
    assert WRITERS["Decimal(38, 12)"](units(AMOUNTS)) == library("Decimal(38, 12)", AMOUNTS)
    nullable = [None, *AMOUNTS, None]
    written = WRITERS["Nullable(Decimal(38, 12))"]([None, *units(AMOUNTS), None])
    assert written == library("Nullable(Decimal(38, 12))", nullable)


def test_amounts_finer_than_the_scale_are_truncated_as_the_library_truncates() -> None:
    finer = [Decimal("0.0000000000019"), Decimal("-0.0000000000019"), Decimal("26.1234567890123456789")]
    assert units(finer) == [1, -1, 26_123_456_789_012]
    assert units([Decimal("12.345678901234")]) == [to_pico(Decimal("12.345678901234"))]
    assert units([Decimal("12.345678901234"), 7]) == [12_345_678_901_234, 7 * 10**12]  # an int: whole USD


def test_values_a_column_cannot_hold_are_refused_as_the_library_refuses_them() -> None:
    with pytest.raises(OverflowError):
        WRITERS["UInt16"]([1, 65_536])
    with pytest.raises(OverflowError):
        WRITERS["UInt64"]([-1])
    with pytest.raises(OverflowError):
        WRITERS["Decimal(38, 12)"]([2**127])


def test_a_block_names_and_types_each_column() -> None:
    data = WRITERS["UInt16"]([1, 2])
    assert block([("n", "UInt16", data)], 2) == b"\x01\x02\x01n\x06UInt16" + data
    assert leb128(300) == b"\xac\x02" and leb128(0) == b"\x00"


def test_columns_written_as_a_group_are_each_the_librarys_bytes() -> None:
    providers = ["openai", "anthropic", "openai", "twilio"] * 100
    skus = ["gpt-4o", "claude", "gpt-4o-mini", "sms"] * 100
    names = [f"u-{n % 300}" for n in range(400)]  # past 256 keys in one column of the group
    written = low_cardinality_group([providers, skus, names])
    assert written == [library("LowCardinality(String)", column) for column in (providers, skus, names)]
    assert low_cardinality_group([[], []]) == [library("LowCardinality(String)", [])] * 2


@pytest.mark.parametrize(
    "values",
    [
        ["evt-1", "", "a" * 127, "x", ""],  # ASCII, each shorter than 128: the NUL-joined text's way
        ["evt-1", "a" * 128, "b"],  # a length past 127
        ["evt-1", "é-2", "c"],  # a character past ASCII
        ["evt\x00-1", "d", ""],  # a NUL inside a value
        ["\x00", "\x00\x00"],
        [""],
        ["only"],
        [],
    ],
)
def test_strings_are_each_values_length_then_its_bytes(values: list[str]) -> None:
    expected = b"".join(leb128(len(v.encode())) + v.encode() for v in values)
    assert WRITERS["String"](values) == expected
    assert decoded("String", expected, len(values)) == values
