"""The parts of a Native block made once or a whole column at a time are the bytes made a value at a time."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from streams.sinks.native_block import (
    WRITERS,
    CodedGroup,
    column_header,
    leb128,
    low_cardinality_coded,
    low_cardinality_codes,
    low_cardinality_group,
    low_cardinality_strings,
)
from streams.sinks.table_columns import LedgerBlock, price_group, units
from tests.unit.streams.sinks.test_native_block import decoded, library

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def test_a_column_with_one_amount_past_int64_is_the_librarys_bytes() -> None:
    amounts = [Decimal(n) for n in range(300)] + [Decimal("9223372.036854775808"), Decimal("-2.5")]
    assert WRITERS["Decimal(38, 12)"](units(amounts)) == library("Decimal(38, 12)", amounts)


def test_amounts_at_int128s_ends_are_each_their_own_sixteen_bytes() -> None:
    ends = [2**127 - 1, -(2**127), 2**64, -(2**64), 2**63, -(2**63) - 1, -1, 0]
    assert WRITERS["Decimal(38, 12)"](ends) == b"".join(u.to_bytes(16, "little", signed=True) for u in ends)


@pytest.mark.parametrize("past", [2**127, -(2**127) - 1])
def test_an_amount_past_int128_among_others_past_int64_is_refused(past: int) -> None:
    with pytest.raises(OverflowError):
        WRITERS["Decimal(38, 12)"]([2**64, past])


def test_a_column_header_is_its_name_and_type_each_after_its_length() -> None:
    long_name = "n" * 130
    assert column_header(long_name, "UInt16") == leb128(130) + long_name.encode() + b"\x06UInt16"
    assert column_header("ü", "String") == b"\x02\xc3\xbc\x06String"


@pytest.mark.parametrize("distinct", [1, 3, 255, 256, 70_000])
def test_a_column_of_many_or_few_strings_is_the_librarys_bytes(distinct: int) -> None:
    picked = random.Random(distinct)
    column = [f"k{picked.randrange(distinct)}" for _ in range(max(1_000, distinct * 2))]
    other = [f"o{len(value) % 3}" for value in column]
    expected = [library("LowCardinality(String)", values) for values in (column, other)]
    assert WRITERS["LowCardinality(String)"](column) == expected[0]
    assert low_cardinality_group([column, other]) == expected


@pytest.mark.parametrize(
    ("type_name", "per_second"), [("DateTime('UTC')", 1), ("DateTime64(6, 'UTC')", 10**6)]
)
def test_times_given_as_ticks_are_the_librarys_bytes_of_those_times(type_name: str, per_second: int) -> None:
    times = [datetime(2026, 11, 20, 23, 59, tzinfo=UTC) - timedelta(seconds=n) for n in range(0, 7_200, 60)]
    ticks = [(at - EPOCH) // timedelta(microseconds=10**6 // per_second) for at in times]
    written = library(type_name, times)
    assert WRITERS[type_name](ticks) == written
    assert WRITERS[type_name](np.array(ticks, dtype=np.int64)) == written


def test_ticks_a_datetime_cannot_hold_are_refused() -> None:
    for ticks in ([-1], [2**32]):
        with pytest.raises(OverflowError):
            WRITERS["DateTime('UTC')"](ticks)


@pytest.mark.parametrize("combinations", [3, 300])
def test_a_group_written_from_its_combinations_codes_is_the_groups_bytes(combinations: int) -> None:
    rng = random.Random(combinations)
    combos = [
        ("llm" if i % 2 else "tool", f"p{i % 5}", f"sku-{i}", "", "tokens", f"v{i % 7}")
        for i in range(combinations)
    ]
    codes = np.array([rng.randrange(1, combinations) for _ in range(1000)], np.int64)  # one never seen
    columns = [list(column) for column in zip(*(combos[c] for c in codes.tolist()), strict=True)]
    assert low_cardinality_coded(codes, combos) == low_cardinality_group(columns)
    one = codes[:1]
    assert low_cardinality_coded(one, combos) == low_cardinality_group([c[:1] for c in columns])
    assert low_cardinality_coded(codes[:0], combos) == low_cardinality_group([[] for _ in columns])


@pytest.mark.parametrize(("names", "rows"), [(5, 1000), (70_000, 1000), (300, 1), (3, 0)])
def test_a_column_written_from_codes_reads_back_as_its_names(names: int, rows: int) -> None:
    rng = random.Random(names)
    table = [f"agent-{n}-ü" if n % 7 == 0 else f"agent-{n}" for n in range(names)]
    codes = np.array([rng.randrange(names) for _ in range(rows)], np.int64)
    written = low_cardinality_codes(codes, table)
    expected = [table[c] for c in codes.tolist()]
    assert decoded("LowCardinality(String)", written, rows) == expected
    assert decoded("LowCardinality(String)", low_cardinality_strings(expected), rows) == expected


def test_codes_first_seen_in_their_own_order_are_the_librarys_bytes() -> None:
    """The dictionary is in the codes' order: where that is the order of first sight, the bytes are
    the library's own too (the dictionary used, and each row's index, of the width it calls for)."""
    table = [f"c{n}" for n in range(600)]
    for codes in ([0, 0, 1, 0, 2, 1, 5, 5, 9], list(range(300)) * 2, [4] * 50):
        expected = [table[c] for c in codes]
        written = low_cardinality_codes(np.array(codes, np.int64), table)
        assert written == library("LowCardinality(String)", expected) == low_cardinality_strings(expected)


@pytest.mark.parametrize("combinations", [1, 3, 300])
def test_a_group_written_with_every_combinations_values_reads_back_as_the_groups_rows(
    combinations: int,
) -> None:
    rng = random.Random(combinations)
    combos = [
        ("llm" if i % 2 else "tool", f"p{i % 5}", f"sku-{i}-ü", "", f"v{i % 7}") for i in range(combinations)
    ]
    group = CodedGroup(combos)
    for rows in (1000, 1, 0):
        codes = np.array([rng.randrange(combinations) for _ in range(rows)], np.int64)
        written = group.written(codes)
        for column, (ours, theirs) in enumerate(
            zip(written, low_cardinality_coded(codes, combos), strict=True)
        ):
            expected = [combos[code][column] for code in codes.tolist()]
            assert decoded("LowCardinality(String)", ours, rows) == expected
            assert decoded("LowCardinality(String)", theirs, rows) == expected


def test_a_blocks_price_group_is_its_own_batchs_whichever_batch_came_before() -> None:
    codes = np.array([1, 0, 1, 1], np.int64)
    first = [("llm", "openai", "a"), ("tool", "search", "b")]
    second = [("llm", "anthropic", "c"), ("tool", "search", "b")]
    for combos in (first, second, first):
        block = LedgerBlock()
        block.price_codes, block.price_combos = codes, combos
        written = price_group(block)
        assert [decoded("LowCardinality(String)", w, 4) for w in written] == [
            [combos[c][column] for c in codes.tolist()] for column in range(3)
        ]
    combos = list(first)
    block = LedgerBlock()
    block.price_codes, block.price_combos = codes, combos
    price_group(block)
    combos[1] = ("tool", "search", "changed")  # the same list, changed in place
    assert decoded("LowCardinality(String)", price_group(block)[2], 4) == [
        "changed",
        "a",
        "changed",
        "changed",
    ]
