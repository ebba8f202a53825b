"""The stored state of a batch's windows, read as columns: no :class:`WindowAggregate` per window.

:func:`streams.window_batch.fold_plan` needs each window's mark and the
fields it adds to; decoding every stored record into an object (a split,
twelve conversions and a construction each) cost more than the sums. Here
the records of current form (``p``, twelve fields) are joined once and their
integer fields read by NumPy's own text reader into one int64 array (no
Python int a field: ``fold_plan`` adds the batch's sums to it in int64 where
they surely fit), each quantity a Decimal of its text. Where a record could
not be read so surely exactly (a field of more than 18 characters, anything
but digits and one leading minus in an integer field) the fields are split
and converted one by one as ``WindowAggregate.decode`` does; any record of
another form (the first one, money in USD) sends the whole batch the
objects' way. Read one by one (``stored[i]``), a window is decoded alone, as
before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from itertools import compress, repeat
from operator import attrgetter, is_not, itemgetter
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from streams.aggregation import AGGREGATE_FIELDS, WindowAggregate

Ints = npt.NDArray[np.int64]

_FIELDS = len(AGGREGATE_FIELDS)
_CONVERT = [Decimal if kind is Decimal else int for kind in AGGREGATE_FIELDS.values()]
_QUANTITY = list(AGGREGATE_FIELDS).index("quantity")
# The integer fields, in order: ``StoredFields.ints``' columns.
_INT_FIELDS = [i for i in range(_FIELDS) if i != _QUANTITY]
_MARK = _INT_FIELDS.index(list(AGGREGATE_FIELDS).index("last_offset"))
_PARTITION = _INT_FIELDS.index(list(AGGREGATE_FIELDS).index("partition"))
_ALL_FIELDS = attrgetter(*AGGREGATE_FIELDS)
_AFTER_TAG = itemgetter(slice(1, None))

# The fast read: every byte one of these (no space, "+" or "_", which int() would also read),
# the tag a space and a quantity's "." and "E" separators for NumPy's reader (the same length: a
# byte's place is kept), each integer at most 18 characters (exact in int64: the reader saturates).
_SPELLED = b"0123456789,-p.E"
_FOR_READER = bytes.maketrans(b"p.E", b" ,,")
_LONGEST = 18
_COMMA, _TAG, _MINUS, _POINT, _EXPONENT = b",p-.E"
# A record's quantity: its third field.
_QUANTITY_TEXT = re.compile(r"p[^,]*,[^,]*,([^,]*)")
assert _QUANTITY == 2


class StoredFields:
    """The fields of the windows that have a record: ``ints`` (windows, 11), the integer fields in
    :data:`AGGREGATE_FIELDS`' order (int64, or object where one is past int64), and each quantity."""

    __slots__ = ("ints", "quantities")

    def __init__(self, ints: npt.NDArray[Any], quantities: list[Decimal]) -> None:
        self.ints, self.quantities = ints, quantities

    @classmethod
    def of_columns(cls, columns: list[list[Any]]) -> StoredFields:
        """From a column a field (Python ints, a Decimal a quantity)."""
        ints = [columns[i] for i in _INT_FIELDS]
        rows = len(columns[0])
        try:
            array = np.array(ints, np.int64).reshape(len(ints), rows).T
        except OverflowError:
            array = np.array(ints, dtype=object).reshape(len(ints), rows).T
        return cls(array, columns[_QUANTITY])

    def columns(self, at: list[int]) -> list[list[Any]]:
        """Every field of the rows ``at``, a column a field in :data:`AGGREGATE_FIELDS`' order."""
        chosen: list[list[Any]] = self.ints[at].T.tolist() if at else [[] for _ in _INT_FIELDS]
        chosen.insert(_QUANTITY, list(map(self.quantities.__getitem__, at)))
        return chosen


class StoredWindows(Sequence[WindowAggregate | None]):
    """Each window's stored record (``WindowAggregate.encode()``), None where it has none."""

    __slots__ = ("_fields", "_in_store", "_loaded", "raws")

    def __init__(self, raws: list[bytes | None]) -> None:
        self.raws = raws
        self._loaded: dict[int, WindowAggregate | None] = {}  # read elsewhere (a late window's snapshot)
        self._fields: tuple[Ints, StoredFields] | None = None
        self._in_store: npt.NDArray[np.bool_] | None = None

    def __len__(self) -> int:
        return len(self.raws)

    @overload
    def __getitem__(self, index: int) -> WindowAggregate | None: ...
    @overload
    def __getitem__(self, index: slice) -> list[WindowAggregate | None]: ...
    def __getitem__(self, index: int | slice) -> WindowAggregate | list[WindowAggregate | None] | None:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index in self._loaded:
            return self._loaded[index]
        raw = self.raws[index]
        return None if raw is None else WindowAggregate.decode(raw)

    def load(self, index: int, window: WindowAggregate | None) -> None:
        """The window at ``index`` as read from elsewhere, in place of its record."""
        self._loaded[index] = window
        self._fields = None

    def in_store(self) -> npt.NDArray[np.bool_]:
        """Which windows have a record (in C: no window decoded), whatever was loaded since."""
        if self._in_store is None:
            self._in_store = np.fromiter(map(is_not, self.raws, repeat(None)), np.bool_, len(self.raws))
        return self._in_store

    def missing(self) -> npt.NDArray[np.bool_]:
        """Which windows have no record (in C: no window decoded)."""
        absent = ~self.in_store()
        for index, window in self._loaded.items():
            absent[index] = window is None
        return absent

    def marks(self) -> Ints:
        """Each window's ``last_offset``, -1 where it has none."""
        held, fields = self._read()
        marks = np.full(len(self.raws), -1, np.int64)
        if len(held):
            marks[held] = fields.ints[:, _MARK]  # exact; past int64 would raise
        return marks

    def bases(self, rows: Ints) -> tuple[npt.NDArray[Any], list[Decimal], Ints]:
        """Of the windows ``rows`` (each has a record): the integer fields a batch adds to, a row a
        window (int64, or object where one is past int64), the quantities, the partitions."""
        held, fields = self._read()
        at = np.searchsorted(held, rows)
        ints = fields.ints[at]
        partitions = ints[:, _PARTITION].astype(np.int64)
        return ints[:, :_MARK], list(map(fields.quantities.__getitem__, at.tolist())), partitions

    def fields(self, rows: Ints) -> list[list[Any]]:
        """Every field of the windows ``rows`` (each has a record), a column a field in
        :data:`AGGREGATE_FIELDS`' order."""
        held, fields = self._read()
        return fields.columns(np.searchsorted(held, rows).tolist())

    def _read(self) -> tuple[Ints, StoredFields]:
        """The rows with a window, and their fields: parsed once."""
        if self._fields is None:
            absent = self.missing()
            held = np.flatnonzero(~absent)
            held_raws = list(compress(self.raws, (~absent).tolist()))
            fields = _parsed(held_raws) if not self._loaded else None
            if fields is None:  # a window read elsewhere, or a record of the first form
                windows = list(map(self.__getitem__, held.tolist()))
                columns = [list(column) for column in zip(*map(_ALL_FIELDS, windows), strict=True)]
                fields = StoredFields.of_columns(columns or [[] for _ in range(_FIELDS)])
            self._fields = (held, fields)
        return self._fields


def _parsed(raws: list[Any]) -> StoredFields | None:
    """The records' fields, converted as ``WindowAggregate.decode`` converts them; None where a
    record is not of the current form."""
    if not raws:
        return StoredFields.of_columns([[] for _ in range(_FIELDS)])
    joined = b",".join(raws)
    # Only the current form's tag is a "p" (the first form's fields are numbers): one each, so
    # every record leads with it.
    if joined.count(b"p") != len(raws):
        return None
    read = _read_fast(joined, len(raws))
    if read is not None:
        return read
    texts = joined.decode().split(",")
    if len(texts) != _FIELDS * len(raws):
        return None
    columns = [texts[field::_FIELDS] for field in range(_FIELDS)]
    columns[0] = list(map(_AFTER_TAG, columns[0]))
    return StoredFields.of_columns(
        [list(map(convert, column)) for convert, column in zip(_CONVERT, columns, strict=True)]
    )


def _read_fast(joined: bytes, records: int) -> StoredFields | None:
    """The fields of ``records`` records of the current form joined by commas, each integer field
    read by NumPy into int64; None where that is not surely what ``int()`` reads (the caller then
    converts field by field)."""
    if joined.translate(None, _SPELLED):
        return None  # a byte int() or Decimal might read otherwise
    text = np.frombuffer(joined, np.uint8)
    commas = np.flatnonzero(text == _COMMA)
    if len(commas) != _FIELDS * records - 1:
        return None
    starts = np.empty(records, np.int64)  # each record's tag
    starts[0] = 0
    starts[1:] = commas[_FIELDS - 1 :: _FIELDS] + 1
    if not bool(np.all(text[starts] == _TAG)):
        return None
    # A quantity's "." and "E" part it for the reader (its parts' values are not used: Decimal
    # reads its text); they may be in no other field.
    extra = joined.count(b".") + joined.count(b"E")
    if extra:
        marks = np.flatnonzero((text == _POINT) | (text == _EXPONENT))
        record = np.searchsorted(starts, marks, "right") - 1
        if not bool(np.all(np.searchsorted(commas, marks) == record * _FIELDS + _QUANTITY)):
            return None  # in an integer field
    lengths = (np.diff(np.concatenate(([-1], commas, [len(text)]))) - 1).reshape(records, _FIELDS)
    if int(lengths.min()) < 1 or int(lengths[:, _INT_FIELDS].max()) > _LONGEST:
        return None  # an empty field, or one the reader might not hold exactly
    if not _digit_after(text, starts + 1, _MINUS):
        return None  # a tag not followed by a number
    if b"-" in joined:
        minus = np.flatnonzero(text == _MINUS)
        before = text[minus - 1]
        if not (
            bool(np.all((before == _COMMA) | (before == _TAG) | (before == _POINT) | (before == _EXPONENT)))
            and _digit_after(text, minus + 1)
        ):
            return None  # a minus inside a number, or alone
    try:
        values = np.fromstring(joined.translate(_FOR_READER), np.int64, sep=",")
    except ValueError:
        return None
    if len(values) != _FIELDS * records + extra:
        return None
    if extra:  # each record's fields start further on by the parts of quantities before it
        more = np.bincount(record, minlength=records)
        first = np.arange(records) * _FIELDS + (np.cumsum(more) - more)
        at = first[:, None] + np.array(_INT_FIELDS)
        at[:, _QUANTITY:] += more[:, None]
        ints = values[at]
    else:
        ints = values.reshape(records, _FIELDS)[:, _INT_FIELDS]
    quantities = _QUANTITY_TEXT.findall(joined.decode())
    if len(quantities) != records:
        return None
    return StoredFields(ints, list(map(Decimal, quantities)))


def _digit_after(text: npt.NDArray[np.uint8], places: Ints, other: int = ord("0")) -> bool:
    """Is a digit (or ``other``) at each of ``places``?"""
    if not len(places):
        return True
    if int(places.max()) >= len(text):
        return False
    following = text[places]
    return bool(np.all(((following >= ord("0")) & (following <= ord("9"))) | (following == other)))
