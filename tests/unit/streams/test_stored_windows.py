"""Stored windows read as columns are the windows their records decode to."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from streams.aggregation import AGGREGATE_FIELDS, WindowAggregate, fold
from streams.stored_windows import StoredWindows, _read_fast
from streams.window_batch import EventColumns, fold_plan, plan_windows
from tests.unit.streams.test_window_batch import SIZES, fleet

BIG = WindowAggregate(
    2**70, 3, Decimal("1.500000000000"), 1, 2, 3, 4, 5, 6, 7, last_offset=2**40, partition=5
)
SMALL = WindowAggregate(5, 1, Decimal("12"), last_offset=9, partition=0)


def as_columns(stored: StoredWindows, rows: list[int]) -> list[list[object]]:
    return stored.fields(np.array(rows, np.int64))


def test_records_of_the_current_form_read_as_columns_as_they_decode() -> None:
    stored = StoredWindows([BIG.encode(), None, SMALL.encode()])
    assert stored.missing().tolist() == [False, True, False]
    assert stored.marks().tolist() == [2**40, -1, 9]
    assert as_columns(stored, [0, 2]) == [list(f) for f in zip(BIG.values(), SMALL.values(), strict=True)]
    assert list(stored) == [BIG, None, SMALL]


def test_a_record_of_the_first_form_sends_the_batch_through_the_objects() -> None:
    first_form = ",".join(["0.000000000005", "1", "12", *["0"] * 5, "0", "0", "9", "0"]).encode()
    stored = StoredWindows([first_form, BIG.encode()])
    assert stored.marks().tolist() == [9, 2**40]
    assert as_columns(stored, [0]) == [[value] for value in SMALL.values()]
    assert len(AGGREGATE_FIELDS) == len(as_columns(stored, [1]))


def test_a_window_read_elsewhere_takes_its_records_place() -> None:
    stored = StoredWindows([None, SMALL.encode()])
    stored.load(0, BIG)
    assert stored.missing().tolist() == [False, False]
    assert stored.marks().tolist() == [2**40, 9]
    assert stored[0] == BIG and as_columns(stored, [0, 1])[0] == [2**70, 5]


def test_a_batch_folds_onto_stored_records_as_onto_their_windows() -> None:
    earlier = fold(fleet(300, 7200.0), SIZES, {}).changed
    plan = plan_windows(EventColumns.of(fleet(300, 7200.0, first_offset=300)), SIZES)
    objects = [earlier.get(key) for key in plan.keys]
    records = StoredWindows([None if w is None else w.encode() for w in objects])
    by_records, by_objects = fold_plan(plan, records), fold_plan(plan, objects)
    assert by_records is not None and by_objects is not None
    assert by_records.changed == by_objects.changed and any(objects)
    assert by_records.changed.records() == by_objects.changed.records()


def _read_as_decoded(records: list[bytes]) -> None:
    """Every field of ``records`` read as columns is what ``WindowAggregate.decode`` reads."""
    stored = StoredWindows(list(records))
    decoded = [WindowAggregate.decode(record) for record in records]
    columns = as_columns(stored, list(range(len(records))))
    assert columns == [list(field) for field in zip(*(w.values() for w in decoded), strict=True)]
    assert [str(q) for q in columns[2]] == [str(w.quantity) for w in decoded]  # the same exponents
    assert stored.marks().tolist() == [w.last_offset for w in decoded]


def test_integer_fields_read_by_numpy_are_what_int_reads() -> None:
    odd = [
        WindowAggregate(-5, 1, Decimal("0E-12"), -3, 0, 0, 0, 0, -(10**16), 1, last_offset=7, partition=3),
        WindowAggregate(10**17 - 1, 2, Decimal("123456789.000000000000"), last_offset=0, partition=0),
        WindowAggregate(0, 0, Decimal("-1.5"), last_offset=-1, partition=-1),
        SMALL,
    ]
    _read_as_decoded([w.encode() for w in odd])
    assert _read_fast(b",".join(w.encode() for w in odd), len(odd)) is not None  # not one by one
    _read_as_decoded([SMALL.encode(), BIG.encode()])  # past int64: Python ints
    _read_as_decoded([SMALL.encode(), WindowAggregate(10**18, 1, Decimal("1")).encode()])  # 19 digits
    _read_as_decoded([WindowAggregate(1, 2, Decimal("12345678901234567890.5")).encode(), SMALL.encode()])
    _read_as_decoded([b"p0007,-0,1,0,0,0,0,0,0,0,5,1", b"p1,2,3E+2,4,5,6,7,8,9,10,11,12"])


def test_records_int_would_read_otherwise_are_converted_one_by_one() -> None:
    _read_as_decoded([b"p 5,1,1,0,0,0,0,0,0,0,5,1", SMALL.encode()])  # int() takes the space
    _read_as_decoded([b"p1_000,1,1.5,0,0,0,0,0,0,0,5,1"])
    for bad in (b"p1,-,1,0,0,0,0,0,0,0,5,1", b"p1,2-3,1,0,0,0,0,0,0,0,5,1", b"p1,1.5,1,0,0,0,0,0,0,0,5,1"):
        with pytest.raises(ValueError):
            StoredWindows([bad, SMALL.encode()]).marks()
