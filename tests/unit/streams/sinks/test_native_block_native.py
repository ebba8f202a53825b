"""Columns made natively (native/src/native_block.rs) are the Python references' bytes: a String
column ``native_block.strings_here``'s (each value's UTF-8 length as LEB128, then its bytes), a
LowCardinality(String) column from codes ``native_block.low_cardinality_codes_here``'s; amounts in
units are ``table_columns._converted_here``'s."""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pytest

from schemas.money import PICO_DIGITS
from streams.sinks import native_block, table_columns
from streams.sinks.native_block import leb128, low_cardinality_codes_here, strings, strings_here
from tests.unit.streams.sinks.test_native_block import decoded

extension = native_block._native
native = None if extension is None else extension.strings
needs_native = pytest.mark.skipif(native is None, reason="the native extension is not built")
_TEXTS = ["evt-1", "", "a" * 127, "a" * 128, "b" * 20_000, "é-2", "客户", "emoji-😀", "evt\x00-1", "\x00"]


def _expected(values: list[str]) -> bytes:
    return b"".join(leb128(len(v.encode())) + v.encode() for v in values)


def _columns() -> list[list[str]]:
    rng = random.Random(19)
    ascii_ids = [f"{rng.getrandbits(128):032x}-{i}" for i in range(1000)]
    return [
        [],
        [""],
        ["USD"],
        _TEXTS,
        ascii_ids,  # past the few values the reference joins as chars: its NUL-joined text
        [*ascii_ids[:300], "a" * 128],  # one length past 127 there
        [*ascii_ids[:300], "é"],  # one character past ASCII there
        [*ascii_ids[:300], "evt\x00-1"],  # one NUL inside a value there
        [rng.choice(_TEXTS) for _ in range(2000)],
    ]


@pytest.mark.parametrize("values", _columns(), ids=lambda values: f"{len(values)} values")
def test_the_reference_writes_each_values_length_then_its_bytes(values: list[str]) -> None:
    assert strings_here(values) == _expected(values)
    assert strings(values) == _expected(values)


@needs_native
@pytest.mark.parametrize("values", _columns(), ids=lambda values: f"{len(values)} values")
def test_the_native_column_is_the_references_bytes_from_a_list_or_a_tuple(values: list[str]) -> None:
    assert native is not None
    assert native(values) == strings_here(values)
    assert native(tuple(values)) == strings_here(values)


@needs_native
@pytest.mark.parametrize("values", [["a", 1], ["a", b"b"], ["a", None]])
def test_a_value_that_is_not_a_str_is_refused_as_the_reference_refuses_it(values: list[object]) -> None:
    assert native is not None
    with pytest.raises(TypeError):
        strings_here(values)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        native(values)  # type: ignore[arg-type]


@needs_native
def test_a_text_utf8_cannot_encode_is_refused_as_the_reference_refuses_it() -> None:
    assert native is not None
    values = ["a", "\ud800"]  # a lone surrogate
    with pytest.raises(UnicodeEncodeError):
        strings_here(values)
    with pytest.raises(UnicodeEncodeError):
        native(values)


def test_the_switch_set_to_python_leaves_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTLINE_NATIVE_BLOCK", "python")
    assert native_block._native_part() is None


def _coded() -> list[tuple[np.ndarray, list[str]]]:
    rng = random.Random(12)
    names = [f"agent-{i}" for i in range(70_000)]
    return [
        (np.array([0]), ["only"]),
        (np.array([1, 1, 0, 1]), ["unused-or-not", "客户-😀"]),
        (np.array([rng.randrange(3, 8) for _ in range(1000)]), names[:10]),  # some names unused
        (np.array([rng.randrange(255) for _ in range(5000)]), names[:255]),  # 1-byte places
        (np.arange(300)[::-1].copy(), names[:300]),  # 2-byte places, codes out of order
        (np.array([7, 69_999, 7, 3]), names),  # names far past the rows (the reference's np.unique)
        (np.arange(70_000), names),  # 4-byte places
        (np.array([0, 1]), ["", "a" * 300]),
    ]


@needs_native
@pytest.mark.parametrize("codes, names", _coded(), ids=lambda value: f"{len(value)}")
def test_a_low_cardinality_column_from_codes_is_the_references_bytes(
    codes: np.ndarray, names: list[str]
) -> None:
    assert extension is not None
    written = extension.low_cardinality_codes(codes, names)
    assert written == low_cardinality_codes_here(codes, names)
    assert extension.low_cardinality_codes(codes, tuple(names)) == written
    assert native_block.low_cardinality_codes(codes, names) == written
    assert decoded("LowCardinality(String)", written, len(codes)) == [names[code] for code in codes.tolist()]


@needs_native
def test_a_code_outside_the_names_is_refused_as_the_reference_refuses_it() -> None:
    assert extension is not None
    codes, names = np.array([0, 2]), ["a", "b"]
    with pytest.raises(IndexError):
        low_cardinality_codes_here(codes, names)
    with pytest.raises(IndexError):
        extension.low_cardinality_codes(codes, names)


def _amounts() -> list[Decimal]:
    rng = random.Random(7)
    edges = [
        "0", "-0", "0E-12", "0E+5", "1", "-1", "1.5", "-2.25", "1E+3", "-7E+2", "1E-12", "-1E-12", "1E-13",
        "9.999999999999999", "-9.999999999999999", "0.000000001234567", "1.000000000000", "26697",
        "123456789012345678901234.123456789012", "99999999999999999999999999.999999999999",
        "-99999999999999999999999999.999999999999", "12345678901234567890123456789012345678E-30",
        "1E-40", "5E+13",
    ]  # fmt: skip
    drawn = [Decimal(rng.randrange(-(10**20), 10**20)).scaleb(rng.randrange(-20, 5)) for _ in range(3000)]
    return [Decimal(text) for text in edges] + drawn


@needs_native
def test_amounts_in_units_natively_are_the_references_truncated_units() -> None:
    native_units = table_columns._native
    assert native_units is not None
    amounts = _amounts()
    assert native_units.decimal_units(amounts, PICO_DIGITS) == table_columns._converted_here(amounts)
    assert table_columns.units(amounts) == table_columns._converted_here(amounts)


@needs_native
@pytest.mark.parametrize(
    "amounts",
    [
        [Decimal(1), Decimal("NaN")],
        [Decimal("Infinity")],
        [Decimal(1), 2],  # not a Decimal
        [Decimal("1" * 39)],  # past 38 digits: the reference's context decides
        [Decimal("1E+30")],  # units past int128: the reference raises at the writer
        [Decimal("1" * 45 + "E-40")],
    ],
)
def test_amounts_the_native_conversion_leaves_go_to_the_reference(amounts: list[Decimal]) -> None:
    native_units = table_columns._native
    assert native_units is not None
    assert native_units.decimal_units(amounts, PICO_DIGITS) is None


@needs_native
@pytest.mark.parametrize(
    "units",
    [
        [],
        [0],
        [1, -1, 2**63 - 1, -(2**63), 10**18, -(10**15), 12345],
        [random.Random(3).randrange(-(2**63), 2**63) for _ in range(2000)],
        [True, False, 5],  # bools are ints, here and to NumPy
    ],
    ids=lambda units: f"{len(units)} units",
)
def test_a_decimal_column_of_int64_units_is_the_references_bytes(units: list[int]) -> None:
    assert extension is not None
    assert extension.decimal128(units) == native_block.decimal128_here(units)
    assert native_block.decimal128(units) == native_block.decimal128_here(units)


@needs_native
@pytest.mark.parametrize("units", [[1, 2**63], [-(2**63) - 1], [1, 2**127], [1, 1.5], [1, Decimal(2)]])
def test_units_past_an_int64_or_not_ints_go_to_the_reference(units: list[int]) -> None:
    assert extension is not None
    assert extension.decimal128(units) is None
