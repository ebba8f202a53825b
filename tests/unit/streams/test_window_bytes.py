"""The window keys and changelog records made natively (native/src/windows.rs) are the Python path's
bytes, which are ``WindowKey.encode()``'s and ``WindowAggregate.encode()``'s."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from streams import window_changes
from streams.aggregation import AGGREGATE_FIELDS, WindowAggregate, WindowKey
from streams.window_batch import EventColumns, fold_plan, plan_windows
from streams.window_changes import KeyColumns, WindowChanges
from tests.unit.streams.test_window_batch import SIZES, fleet

native = window_changes._native
needs_native = pytest.mark.skipif(native is None, reason="the native extension is not built")
_INT_FIELDS = [name for name in AGGREGATE_FIELDS if name != "quantity"]
_EDGES = [0, 1, -1, 9, 10, -10, 2**31, 2**32 - 1, 10**17, 10**18 - 1, 10**18, 2**63 - 1, -(2**63)]
_QUANTITIES = [
    Decimal(0), Decimal("0E-12"), Decimal("0.000000000000"), Decimal("1.500000000000"), Decimal("1.5"),
    Decimal("-0"), Decimal("-2.25"), Decimal("1E+3"), Decimal("123456789012345678901234.123456789012"),
    Decimal("1E-14"), Decimal("7"),
]  # fmt: skip
_NAMES = ["acme", "", "ünïcode-客户", "a,b", "x" * 300, "~tilde", "emoji-😀"]


def _ints(rows: int, rng: random.Random) -> np.ndarray[Any, np.dtype[np.int64]]:
    values = [
        rng.choice(_EDGES) if rng.random() < 0.3 else rng.randrange(-(2**63), 2**63)
        for _ in range(rows * len(_INT_FIELDS))
    ]
    return np.array(values, np.int64).reshape(rows, len(_INT_FIELDS))


def _changes(ints: np.ndarray[Any, np.dtype[np.int64]], quantities: list[Decimal]) -> WindowChanges:
    rows = len(quantities)
    columns: list[list[Any]] = ints.T.tolist()
    columns.insert(list(AGGREGATE_FIELDS).index("quantity"), quantities)
    keys = [WindowKey("c", "a", "k", 60, 60 * i) for i in range(rows)]
    return WindowChanges(keys, [key.encode() for key in keys], columns, ints=ints)


@needs_native
@pytest.mark.parametrize("seed", range(20))
def test_native_records_are_the_python_records(seed: int) -> None:
    rng = random.Random(seed)
    rows = rng.choice([0, 1, 2, 50, 400])
    quantities = [rng.choice(_QUANTITIES) for _ in range(rows)]
    changes = _changes(_ints(rows, rng), quantities)
    assert changes.records() == changes.records_here()


@needs_native
@pytest.mark.parametrize("seed", range(5))
def test_native_pairs_are_the_keys_with_the_python_records(seed: int) -> None:
    rng = random.Random(seed)
    rows = rng.choice([0, 1, 60])
    changes = _changes(_ints(rows, rng), [rng.choice(_QUANTITIES) for _ in range(rows)])
    pairs = changes.pairs()
    assert pairs == list(zip(changes.raw_keys, changes.records_here(), strict=True))
    assert all(type(pair) is tuple for pair in pairs)
    assert changes.ints is not None
    with pytest.raises(ValueError):
        native.window_records(changes.ints.reshape(-1), 11, changes.columns[2], 2, [b"k"] * (rows + 1))


@needs_native
def test_native_records_are_the_aggregates_encodings() -> None:
    rng = random.Random(7)
    ints = _ints(len(_QUANTITIES), rng)
    changes = _changes(ints, _QUANTITIES)
    objects = [
        WindowAggregate(**dict(zip(_INT_FIELDS, row, strict=True)), quantity=quantity)
        for row, quantity in zip(ints.tolist(), _QUANTITIES, strict=True)
    ]
    assert changes.records() == [aggregate.encode() for aggregate in objects]


@needs_native
def test_native_records_refuse_ints_of_another_shape() -> None:
    with pytest.raises(ValueError):
        native.window_records(np.zeros(10, np.int64), 11, [Decimal(0)], 2)
    with pytest.raises((ValueError, BufferError, TypeError)):
        native.window_records(np.zeros(11, np.int32), 11, [Decimal(0)], 2)


def _key_columns(rows: int, rng: random.Random) -> KeyColumns:
    names = (rng.sample(_NAMES, 4), rng.sample(_NAMES, 3), ["llm", "tool", "compute"])
    codes = [np.array([rng.randrange(len(n)) for _ in range(rows)], np.int64) for n in names]
    sizes = np.array([rng.choice([60, 3600, 86_400]) for _ in range(rows)], np.int64)
    starts = np.array([rng.choice([0, 60, 1_800_000_000, -60, 2**62]) for _ in range(rows)], np.int64)
    return KeyColumns(*codes, sizes, starts, names)


@needs_native
@pytest.mark.parametrize("seed", range(20))
def test_native_keys_are_the_python_keys(seed: int) -> None:
    rng = random.Random(seed)
    keys = _key_columns(rng.choice([0, 1, 3, 200]), rng)
    assert keys.encoded() == keys.encoded_here() == list(map(WindowKey.encode, keys.keys()))


@needs_native
def test_native_keys_of_a_slice_and_refused_codes() -> None:
    keys = _key_columns(50, random.Random(3))
    part = keys.take(slice(5, 40, 3))  # not contiguous: copied for the native call
    assert part.encoded() == list(map(WindowKey.encode, part.keys()))
    broken = KeyColumns(
        np.array([9], np.int64), np.array([0], np.int64), np.array([0], np.int64),
        np.array([60], np.int64), np.array([0], np.int64), (["c"], ["a"], ["k"]),
    )  # fmt: skip
    with pytest.raises(ValueError):
        broken.encoded()


def test_a_folded_batch_has_the_same_bytes_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    batch = EventColumns.of(fleet(300, 7200.0))
    made = []
    for module in (native, None):
        monkeypatch.setattr(window_changes, "_native", module)
        plan = plan_windows(batch, SIZES)
        result = fold_plan(plan, [None] * len(plan.raw_keys))
        assert result is not None and type(result.changed) is WindowChanges
        assert result.changed.ints is not None
        made.append((plan.raw_keys, result.changed.records()))
    assert made[0] == made[1]
    assert made[1][0] == [key.encode() for key in plan.keys]
    assert made[1][1] == [result.changed[key].encode() for key in plan.keys]
