"""Stored windows read as columns are the windows their records decode to."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from streams.aggregation import AGGREGATE_FIELDS, WindowAggregate, fold
from streams.stored_windows import StoredWindows
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
