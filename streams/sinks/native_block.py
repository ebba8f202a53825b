"""ClickHouse Native-format insert blocks, built column by column from Python values.

clickhouse-connect serialises an insert value by value in Python (a
``Decimal`` through its text, a ``LowCardinality`` dictionary a key at a
time) on a thread of the worker. The sink's two big tables have fixed
column types, so their blocks are written here a whole column at a time
instead: NumPy for fixed-width columns, one ``join`` for strings, and the
library's own layout otherwise (its writer in ``clickhouse_connect.datatypes``
is the reference, and the tests compare against its bytes).

The Native format (ClickHouse ``NativeWriter`` over HTTP, no protocol
revision): the number of columns and of rows as LEB128, then each column's
name and type as LEB128-length-prefixed strings, then its data:

- ``UInt*``, ``Bool``, ``DateTime``, ``DateTime64``: little-endian fixed-width
  integers (ticks since the epoch for times);
- ``Decimal(38, S)``: the value times 10**S as a little-endian int128;
- ``String``: each value's UTF-8 length as LEB128, then its bytes;
- ``Nullable(T)``: a byte a row (1 for NULL), then T's column with a default
  where the row is NULL;
- ``LowCardinality(String)``: the serialisation version (UInt64 1), then
  UInt64 flags (the index width, a new dictionary, additional keys), the
  dictionary's size and its strings, the number of rows and each row's index;
- ``Map(String, String)``: the cumulative number of pairs a row (UInt64),
  then every key, then every value.

Each writer takes a column's values in one form, noted on it: money as whole
units of the column's scale (ints), times as aware datetimes or as ticks
(ints or a NumPy array).
"""

from __future__ import annotations

import array
import functools
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import numpy as np

from streams.column_groups import Numbering
from streams.native_extension import native_extension

Writer = Callable[[Sequence[Any]], bytes]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# A float timestamp below 2**31 s (2038) holds its microsecond exactly: |error| < 0.25 µs after rounding.
_EXACT_FLOAT_SECONDS = 2.0**31
# Fewer values (a dictionary's keys, a constant column's one value) are joined with their lengths as
# chars: NumPy's few calls of the NUL scan cost more than that join of a few dozen values.
_FEW_STRINGS = 256
_NATIVE_SEQUENCES = (list, tuple)  # what the native strings reads without a Python call a value
_ONE_BYTE_LENGTH = [bytes((n,)) for n in range(128)]
_LOW_CARDINALITY_VERSION = (1).to_bytes(8, "little")  # SharedDictionariesWithAdditionalKeys
_NEW_DICTIONARY = (1 << 9) | (1 << 10)  # HasAdditionalKeysBit | NeedUpdateDictionary
_LOW_HALF = (1 << 64) - 1
_INDEX_TYPECODES = ("B", "H", "I", "Q")  # an index of 1, 2, 4 or 8 bytes
_INDEX_TYPES = (np.uint8, np.uint16, np.uint32, np.uint64)
_TYPECODES = dict(zip(_INDEX_TYPES, _INDEX_TYPECODES, strict=True))
assert [array.array(code).itemsize for code in _INDEX_TYPECODES] == [1, 2, 4, 8]


def constant(values: Sequence[Any]) -> bool:
    """Is every value the first one? Most rows share a currency, a zero, an empty string:
    their column costs a fill. (Identical objects compare in a pointer's time.)"""
    if not values:
        return False
    first = values[0]
    return values[-1] is first and values[len(values) // 2] is first and values.count(first) == len(values)


def leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def block(columns: Sequence[tuple[str, str, bytes]], rows: int) -> bytes:
    """One Native block of ``(name, type, data)`` columns, each ``rows`` long."""
    parts = [leb128(len(columns)), leb128(rows)]
    for name, type_name, data in columns:
        parts += (column_header(name, type_name), data)
    return b"".join(parts)


@functools.cache
def column_header(name: str, type_name: str) -> bytes:
    """A column's name and type as a block gives them before its data. A table has a few dozen
    columns, and a batch's every block names each again: made once, not a block at a time."""
    return b"".join(leb128(len(text)) + text for text in (name.encode(), type_name.encode()))


def _packed(typecode: str, values: Iterable[int]) -> bytes:
    """Python ints as little-endian machine integers. array.array converts small ints (token
    counts) three times as fast as NumPy, and refuses what does not fit with OverflowError, as
    the library's writer (array.array too) does."""
    packed = array.array(typecode, values)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def unsigned(dtype: type[np.unsignedinteger[Any]]) -> Writer:
    """ints (or bools, or a NumPy array)."""
    typecode = _TYPECODES[dtype]

    def write(values: Sequence[int]) -> bytes:
        if isinstance(values, np.ndarray):
            return values.astype(np.dtype(dtype).newbyteorder("<")).tobytes()
        if constant(values):
            return _packed(typecode, values[:1]) * len(values)
        return _packed(typecode, values)

    return write


def signed64(values: Sequence[int]) -> bytes:
    """ints (or a NumPy array), as Int64; past int64 raises OverflowError."""
    if isinstance(values, np.ndarray):
        return values.astype("<i8").tobytes()
    return _packed("q", values)


def _native_part() -> ModuleType | None:
    """The extension, whose ``strings``, ``low_cardinality_codes`` and ``decimal128`` are
    :func:`strings_here`'s, :func:`low_cardinality_codes_here`'s and :func:`decimal128_here`'s bytes
    made natively (and ``decimal_units`` :func:`streams.sinks.table_columns.units`'); None where
    ``COSTLINE_NATIVE_BLOCK=python`` or the build lacks them."""
    return native_extension("COSTLINE_NATIVE_BLOCK", "decimal128")


_native = _native_part()


def strings(values: Sequence[str]) -> bytes:
    """str values."""
    if len(values) > 1 and constant(values):
        return strings(values[:1]) * len(values)
    # Natively in one pass over the values, where built: a fifth of the Python join's CPU.
    if _native is not None and type(values) in _NATIVE_SEQUENCES:
        written: bytes = _native.strings(values)
        return written
    return strings_here(values)


def strings_here(values: Sequence[str]) -> bytes:
    """:func:`strings` in Python (the reference)."""
    if len(values) >= _FEW_STRINGS:
        written = _ascii_strings(values)
        if written is not None:
            return written
    parts: list[Any] = [""] * (2 * len(values))
    # The common case, all ASCII and short: one-character lengths interleaved into one text, one
    # join. A length past 127 is a character past ASCII, as a value's own would be: either fails
    # the ASCII encoding (a ValueError, as chr's of a length past U+10FFFF), and the column is
    # written the long way.
    try:
        parts[::2] = map(chr, map(len, values))
        parts[1::2] = values
        return "".join(parts).encode("ascii")
    except ValueError:
        pass
    encoded = [value.encode() for value in values]
    parts[1::2] = encoded
    parts[::2] = [_ONE_BYTE_LENGTH[n] if n < 128 else leb128(n) for n in map(len, encoded)]
    return b"".join(parts)


def _ascii_strings(values: Sequence[str]) -> bytes | None:
    """:func:`strings` of ASCII values shorter than 128, else None: the values joined with a NUL
    before each, then each NUL replaced by the length of the value after it, which is the column's
    form (a one-byte length, the value). No value is asked its length: a batch's texts are out of
    cache by now, and the join reads each once. A NUL in a value gives more NULs than values: None."""
    try:
        text = bytearray(("\x00" + "\x00".join(values)).encode("ascii"))
    except UnicodeEncodeError:
        return None
    data = np.frombuffer(text, np.uint8)
    marks = np.flatnonzero(data == 0)
    if len(marks) != len(values) or not len(values):
        return None
    lengths = np.empty_like(marks)  # np.diff's append= alone costs ~20 µs, more than a few values' join
    lengths[:-1] = marks[1:] - marks[:-1] - 1
    lengths[-1] = len(data) - marks[-1] - 1
    if int(lengths.max()) > 127:
        return None
    data[marks] = lengths
    return bytes(text)


def low_cardinality_strings(values: Sequence[str]) -> bytes:
    """str values, as a dictionary of the distinct ones (in order of first sight) and an index a row."""
    if not values:
        return _LOW_CARDINALITY_VERSION
    if constant(values):
        return _low_cardinality([values[0]], bytes(len(values)), len(values))
    numbers = Numbering()
    positions = np.fromiter(map(numbers.__getitem__, values), dtype=np.int64, count=len(values))
    return _low_cardinality(list(numbers), _narrowed(positions, len(numbers)), len(values))


def low_cardinality_codes(codes: np.ndarray[Any, np.dtype[np.int64]], names: Sequence[str]) -> bytes:
    """:func:`low_cardinality_strings` of ``names[code]`` for each of ``codes`` (``names`` distinct),
    no row read as a str: the dictionary holds the names the codes use, in the codes' order rather
    than in order of first sight. Other bytes, the same rows (a dictionary's order is not part of
    the values)."""
    if not len(codes):
        return _LOW_CARDINALITY_VERSION
    # Natively, where built: a mark and a count a row, no NumPy call's fixed cost (a few µs each).
    if (
        _native is not None
        and type(names) in _NATIVE_SEQUENCES
        and codes.dtype == np.int64
        and codes.flags.c_contiguous
    ):
        written: bytes = _native.low_cardinality_codes(codes, names)
        return written
    return low_cardinality_codes_here(codes, names)


def low_cardinality_codes_here(codes: np.ndarray[Any, np.dtype[np.int64]], names: Sequence[str]) -> bytes:
    """:func:`low_cardinality_codes` in Python (the reference)."""
    rows = len(codes)
    if not rows:
        return _LOW_CARDINALITY_VERSION
    if len(names) <= 4 * rows:  # a mark a name, then a running count: no sort
        used = np.zeros(len(names), np.bool_)
        used[codes] = True
        present = np.flatnonzero(used)
        positions = (np.cumsum(used) - 1)[codes]
    else:
        present, positions = np.unique(codes, return_inverse=True)
    keys = list(map(names.__getitem__, present.tolist()))
    return _low_cardinality(keys, _narrowed(positions, len(keys)), rows)


def low_cardinality_group(columns: Sequence[Sequence[str]]) -> list[bytes]:
    """Columns of str values that go together (a price's provider, SKU, unit, version), each as
    :func:`low_cardinality_strings` writes it: the rows' combinations are found in one pass,
    then each column's dictionary from the few distinct combinations (in order of first sight)."""
    rows = len(columns[0])
    if not rows:
        return [_LOW_CARDINALITY_VERSION] * len(columns)
    combinations = Numbering()
    which = np.fromiter(map(combinations.__getitem__, zip(*columns, strict=True)), dtype=np.int64, count=rows)
    return _group(list(combinations), which, rows)


def low_cardinality_coded(
    codes: np.ndarray[Any, np.dtype[np.int64]], combinations: Sequence[Sequence[str]]
) -> list[bytes]:
    """:func:`low_cardinality_group` of the columns ``combinations[code]`` for each of ``codes``,
    with the same bytes, from the codes: the rows are never read one by one."""
    rows = len(codes)
    if not rows:
        return [_LOW_CARDINALITY_VERSION] * len(combinations[0])
    found, first = np.unique(codes, return_index=True)
    seen = found[np.argsort(first)]  # the codes in order of first sight, as Numbering numbers them
    renumbered = np.zeros(int(found[-1]) + 1, np.int64)
    renumbered[seen] = np.arange(len(seen))
    return _group([combinations[code] for code in seen.tolist()], renumbered[codes], rows)


class CodedGroup:
    """Columns of str values that follow from a code (a price's combination), each written from a
    block's codes with a dictionary of every value of ``combinations``, used by the block or not:
    the dictionaries and each combination's place in them are found once for all a batch's blocks,
    a block's columns are then an index lookup each. Other bytes than
    :func:`low_cardinality_coded`'s (keys no row uses), the same rows."""

    __slots__ = ("columns", "combinations")

    def __init__(self, combinations: Sequence[Sequence[str]]) -> None:
        self.combinations = list(combinations)  # a copy: compared to find the group again
        self.columns: list[tuple[bytes, np.ndarray[Any, Any]]] = []
        for values in zip(*combinations, strict=True):  # a column's value in each combination
            numbers = Numbering()
            of_combination = np.fromiter(map(numbers.__getitem__, values), np.int64, len(values))
            keys = list(numbers)
            width = _index_width(len(keys))
            head = _packed("Q", (1, _NEW_DICTIONARY | width, len(keys))) + strings(keys)
            self.columns.append((head, of_combination.astype(_INDEX_TYPES[width])))

    def written(self, codes: np.ndarray[Any, np.dtype[np.int64]]) -> list[bytes]:
        """Each column of the rows whose combinations are ``codes``, in Native form."""
        if not len(codes):
            return [_LOW_CARDINALITY_VERSION] * len(self.columns)
        rows = len(codes).to_bytes(8, "little")
        return [b"".join((head, rows, index[codes].tobytes())) for head, index in self.columns]


def _group(combinations: list[Any], which: np.ndarray[Any, np.dtype[np.int64]], rows: int) -> list[bytes]:
    """Each column of ``combinations`` (distinct, in order of first sight), written for rows that
    are each the combination ``which`` numbers."""
    written = []
    for values in zip(*combinations, strict=True):  # a column's value in each combination
        numbers = Numbering()
        of_combination = np.fromiter(map(numbers.__getitem__, values), dtype=np.int64, count=len(values))
        positions = _narrowed(of_combination[which], len(numbers))
        written.append(_low_cardinality(list(numbers), positions, rows))
    return written


def _narrowed(positions: np.ndarray[Any, Any], keys: int) -> bytes:
    """Each row's place in a dictionary of ``keys``, as the index the dictionary's size calls for."""
    return positions.astype(_INDEX_TYPES[_index_width(keys)]).tobytes()


def _index_width(keys: int) -> int:
    return (keys.bit_length() - 1) >> 3  # the library's: log2 of the dictionary's size, in bytes


def _low_cardinality(keys: list[str], positions: bytes, rows: int) -> bytes:
    head = _packed("Q", (1, _NEW_DICTIONARY | _index_width(len(keys)), len(keys)))
    return b"".join((head, strings(keys), rows.to_bytes(8, "little"), positions))


def decimal128(units: Sequence[int]) -> bytes:
    """ints (or an int64 NumPy array), each the value in units of the column's scale; past int128
    raises OverflowError."""
    if isinstance(units, np.ndarray):
        return _int64_decimal128(units)
    if constant(units) and -(2**63) <= units[0] < 2**63:  # a column of zeros, most often
        return units[0].to_bytes(16, "little", signed=True) * len(units)
    if _native is not None and type(units) is list:  # natively, where every unit fits an int64
        written: bytes | None = _native.decimal128(units)
        if written is not None:
            return written
    return decimal128_here(units)


def decimal128_here(units: Sequence[int]) -> bytes:
    """:func:`decimal128` in Python (the reference)."""
    try:
        # Amounts pass 2**30: NumPy converts those faster than array.array, fromiter a fifth faster
        # than np.array (no look at the values' types first); past int64 both raise OverflowError.
        low = np.fromiter(units, np.int64, len(units))
    except OverflowError:
        return _wide_decimal128(units)
    return _int64_decimal128(low)


def _int64_decimal128(low: np.ndarray[Any, Any]) -> bytes:
    wide = np.empty((len(low), 2), dtype="<i8")
    wide[:, 0] = low.astype(np.int64, casting="safe")
    wide[:, 1] = wide[:, 0] >> 63  # the high half: the low half's sign
    return wide.tobytes()


def _wide_decimal128(units: Sequence[int]) -> bytes:
    """:func:`decimal128` of a column with some amount past int64 (a window's quantity summed
    over a busy hour): its halves split a whole column at a time, a third cheaper than each
    amount's ``to_bytes``. A high half past int64 is past int128, and NumPy refuses it with
    OverflowError, as ``to_bytes`` does."""
    whole = np.array(units, dtype=object)
    wide = np.empty((len(whole), 2), dtype="<u8")
    wide[:, 0] = (whole & _LOW_HALF).astype(np.uint64)
    wide[:, 1] = (whole >> 64).astype(np.int64).view(np.uint64)  # two's complement, as to_bytes
    return wide.tobytes()


def nullable_decimal128(units: Sequence[int | None]) -> bytes:
    """ints or None."""
    if constant(units) and units[0] is None:  # no outcome value in a batch of usage
        return b"\x01" * len(units) + bytes(16 * len(units))
    nulls = bytes([unit is None for unit in units])
    if not any(nulls):
        return nulls + decimal128(units)  # type: ignore[arg-type]  # no None here
    return nulls + decimal128([0 if unit is None else unit for unit in units])


def booleans(values: Sequence[bool]) -> bytes:
    """bools."""
    return bytes(values)


def string_maps(values: Sequence[Mapping[str, str]]) -> bytes:
    """dicts of str to str."""
    if not any(values):  # no attributes at all: every row's offset is 0
        return bytes(8 * len(values))
    sizes = np.fromiter(map(len, values), dtype="<u8", count=len(values))
    offsets = np.cumsum(sizes, dtype="<u8").tobytes()
    keys = [key for pairs in values for key in pairs]
    items = [item for pairs in values for item in pairs.values()]
    return b"".join((offsets, strings(keys), strings(items)))


def times(per_second: int) -> Writer:
    """Aware datetimes, or ints already ticks (``per_second`` a second), as ticks since the epoch.

    Ticks are whole fractions of a second down to the microsecond (DateTime to DateTime64(6))."""
    micros_a_tick = 1_000_000 // per_second

    dtype = "<u4" if per_second == 1 else "<i8"  # DateTime is unsigned seconds
    typecode = "I" if per_second == 1 else "q"

    def write(values: Sequence[Any]) -> bytes:
        if isinstance(values, np.ndarray):
            return values.astype(dtype).tobytes()
        if not len(values) or not isinstance(values[0], datetime):
            return _packed(typecode, values)  # ticks as Python ints (a window's start)
        first = values[0]
        if values.count(first) == len(values):  # one time for a whole column: ingested_at, updated_at
            ticks = (first - _EPOCH) // _MICROSECOND // micros_a_tick
            return np.full(len(values), ticks, dtype=dtype).tobytes()
        return (micros(values) // micros_a_tick).astype(dtype).tobytes()  # floor, as datetime_ticks

    return write


def micros(
    values: Sequence[datetime], seconds: np.ndarray[Any, np.dtype[np.float64]] | None = None
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Aware datetimes as int64 microseconds since the epoch, exactly. ``seconds``: their
    ``datetime.timestamp()``, where already taken (``values`` are then read only past 2038)."""
    if seconds is None:
        seconds = np.fromiter(map(datetime.timestamp, values), dtype=np.float64, count=len(values))
    if len(seconds) and np.abs(seconds).max() < _EXACT_FLOAT_SECONDS:
        return np.rint(seconds * 1e6).astype(np.int64)
    return np.array([(at - _EPOCH) // _MICROSECOND for at in values], dtype=np.int64)


# The column types this module writes, by the name ClickHouse describes them with.
WRITERS: dict[str, Writer] = {
    "String": strings,
    "LowCardinality(String)": low_cardinality_strings,
    "UInt16": unsigned(np.uint16),
    "UInt32": unsigned(np.uint32),
    "UInt64": unsigned(np.uint64),
    "Int64": signed64,
    "Bool": booleans,
    "Decimal(38, 12)": decimal128,
    "Nullable(Decimal(38, 12))": nullable_decimal128,
    "Map(String, String)": string_maps,
    "DateTime('UTC')": times(1),
    "DateTime64(3, 'UTC')": times(1_000),
    "DateTime64(6, 'UTC')": times(1_000_000),
}
