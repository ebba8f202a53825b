"""Rows grouped by a key with one sort: groups in key order, rows in their own order within each."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from streams.column_groups import Grouping, Numbering, combine


def test_each_group_has_its_first_and_last_row_and_every_row_its_group() -> None:
    groups = Grouping.by(np.array([5, 2, 5, 2, 9], np.int64))
    assert groups.first.tolist() == [1, 0, 4]
    assert groups.last().tolist() == [3, 2, 4]
    assert groups.group_of.tolist() == [1, 0, 1, 0, 2]
    values = np.array([10, 20, 30, 40, 50], np.int64)
    assert groups.min(values).tolist() == [20, 10, 50] and groups.max(values).tolist() == [40, 30, 50]


def test_rows_of_any_width_and_decimals_add_in_row_order() -> None:
    groups = Grouping.by(np.array([1, 0, 1], np.int64))
    rows = np.array([[1, 2], [3, 4], [5, 6]], np.int64)
    assert groups.add(rows).tolist() == [[3, 4], [6, 8]]
    amounts = np.array([Decimal("1.5"), Decimal("2"), Decimal("0.250")], dtype=object)
    assert [str(total) for total in groups.add(amounts)] == ["2", "1.750"]


def test_every_row_its_own_group_needs_no_sort() -> None:
    groups = Grouping.each(3)
    assert len(groups) == 3 and groups.last().tolist() == [0, 1, 2] and groups.group_of.tolist() == [0, 1, 2]


def test_combined_codes_stay_distinct_past_int64() -> None:
    wide = np.array([2**40, 2**40, 0], np.int64)
    codes = combine(wide, wide, np.array([1, 2, 1], np.int64))
    assert len(set(codes.tolist())) == 3 and int(codes.max()) < 2**63


def test_group_sums_past_int64_are_exact() -> None:
    values = np.array([2**62, 2**62, 2**62, -5, 7], np.int64)
    groups = Grouping.by(np.array([1, 1, 1, 0, 0], np.int64))
    assert groups.sum(values).tolist() == [2, 3 * 2**62]


def test_keys_are_numbered_in_order_of_first_sight() -> None:
    numbers = Numbering()
    assert [numbers[key] for key in ["b", "a", "b", "c", "a"]] == [0, 1, 0, 2, 1]
    assert list(numbers) == ["b", "a", "c"]


def test_integer_rows_sum_to_what_adding_them_in_order_gives_wrapping_alike() -> None:
    rng = np.random.default_rng(7)
    key = rng.integers(0, 300, 5_000)
    groups = Grouping.by(key)
    for values in (
        rng.integers(-(2**40), 2**40, (5_000, 9)),
        rng.integers(0, 2**62, 5_000),  # sums past int64: int64's wrap, as reduceat's
        rng.integers(0, 2**31, (5_000, 2)).astype(np.uint32),  # widened as reduceat widens it
        np.asfortranarray(rng.integers(-5, 5, (5_000, 3))),
    ):
        expected = np.add.reduceat(values[groups.order], groups.starts, axis=0)
        summed = groups.add(values)
        assert summed.dtype == expected.dtype and summed.flags.c_contiguous
        assert np.array_equal(summed, expected)
    each = Grouping.each(4)
    assert np.array_equal(each.add(np.arange(8).reshape(4, 2)), np.arange(8).reshape(4, 2))
    for narrow in (np.arange(4, dtype=np.uint32), np.arange(4, dtype=np.int8), np.ones(4, np.bool_)):
        summed, expected = each.add(narrow), np.add.reduceat(narrow, np.arange(4))
        assert summed.dtype == expected.dtype and summed.tolist() == expected.tolist()  # widened alike
    assert Grouping.by(np.zeros(0, np.int64)).add(np.zeros((0, 9), np.int64)).shape == (0, 9)
