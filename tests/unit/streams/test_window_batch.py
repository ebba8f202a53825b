"""Folding a batch window by window gives what folding it event by event gives."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import numpy as np
import orjson
import pytest

from bench.workload import events
from schemas.events import parse_event
from schemas.prices import load_price_dir
from streams.aggregation import Counted, WindowAggregate, WindowKey, fold, position
from streams.pricing import PriceCatalog
from streams.window_batch import EventColumns, fold_plan, plan_windows
from tests.factories import PRICES, usage

SIZES = (60, 3600)


def fleet(n: int, span_s: float, partition: int = 0, first_offset: int = 0) -> list[Counted]:
    """A fleet's events (every kind, Decimal and pico prices), priced, at increasing positions."""
    catalog = PriceCatalog(load_price_dir(PRICES))
    return [
        (partition, position(first_offset + i, 0), catalog.price(parse_event(value)))
        for i, (_, value) in enumerate(events(n, customers=20, agents=4, span_s=span_s))
    ]


def by_window(batch: list[Counted], current: dict[WindowKey, WindowAggregate]) -> tuple[object, ...] | None:
    plan = plan_windows(EventColumns.of(batch), SIZES)
    before = [current.get(key) for key in plan.keys]
    result = fold_plan(plan, before)
    if result is None:
        return None
    assert result.raw_keys == [key.encode() for key in result.changed]
    return result.changed, result.folded, result.skipped


def by_event(batch: list[Counted], current: dict[WindowKey, WindowAggregate]) -> tuple[object, ...]:
    result = fold(batch, SIZES, current)
    return result.changed, result.folded, result.skipped


@pytest.mark.parametrize("span_s", [10.0, 600.0, 86_400.0])
def test_a_fresh_batch_folds_to_the_same_windows(span_s: float) -> None:
    batch = fleet(600, span_s)
    assert by_window(batch, {}) == by_event(batch, {})


def test_windows_already_holding_the_batch_count_nothing_again() -> None:
    batch = fleet(400, 3600.0)
    state = fold(batch, SIZES, {}).changed
    assert by_window(batch, state) == by_event(batch, state) == ({}, 0, 400)


def test_a_batch_after_the_state_folds_onto_it() -> None:
    earlier, later = fleet(300, 600.0), fleet(300, 600.0, first_offset=300)
    state = fold(earlier, SIZES, {}).changed
    assert by_window(later, state) == by_event(later, state)


def test_a_replay_that_overlaps_folded_events_is_left_to_the_event_by_event_fold() -> None:
    batch = fleet(400, 600.0)
    state = fold(batch[:150], SIZES, {}).changed  # an earlier attempt, cut elsewhere
    assert by_window(batch, state) is None


def test_positions_out_of_order_within_a_customer_are_left_to_the_event_by_event_fold() -> None:
    batch = fleet(200, 60.0)
    swapped = [*batch[100:], *batch[:100]]
    assert by_window(swapped, {}) is None


def test_costs_beyond_64_bits_are_left_to_the_event_by_event_fold() -> None:
    partition, pos, priced = fleet(1, 10.0)[0]
    fields = {name: getattr(priced, name) for name in priced.__dataclass_fields__}
    big = type(priced)(**{**fields, "cost": Decimal(2**70) / 10**12, "cost_pico": 2**70})
    assert by_window([(partition, pos, big)], {}) is None


def test_columns_keep_what_a_mask_selects() -> None:
    batch = EventColumns.of(fleet(10, 10.0))
    keep = np.array([i % 3 == 0 for i in range(10)])
    chosen = batch.select(keep)
    assert chosen.counted == [c for c, k in zip(batch.counted, keep, strict=True) if k]
    assert chosen.customers == [c[2].event.customer_id for c in chosen.counted]
    assert chosen.positions.tolist() == [c[1] for c in chosen.counted]


def test_watermarks_take_each_partitions_highest_whole_second() -> None:
    batch = EventColumns.of(fleet(50, 100.0))
    highest = max(int(c[2].event.occurred_at.timestamp()) for c in batch.counted)
    assert batch.watermarks({0: 5}) == {0: highest}
    assert batch.watermarks({0: highest + 10}) == {0: highest + 10}


@pytest.mark.parametrize("sizes", [(90, 120, 86_400), (60,), (300, 3600)])
def test_windows_of_any_sizes_fold_as_event_by_event(sizes: tuple[int, ...]) -> None:
    batch = fleet(500, 7200.0)
    plan = plan_windows(EventColumns.of(batch), sizes)
    result = fold_plan(plan, [None] * len(plan.keys))
    assert result is not None and result.raw_keys == [key.encode() for key in result.changed]
    expected = fold(batch, sizes, {})
    assert result.changed == expected.changed
    assert plan.keys == list(dict.fromkeys(plan.keys))  # each window once


def test_outcomes_values_and_failures_fold_as_event_by_event() -> None:
    catalog = PriceCatalog(load_price_dir(PRICES))
    outcomes = [
        usage(f"o-{i}", "outcome", outcome_type="ticket_resolved", success=i % 3 != 0, customer=f"c{i % 4}")
        | ({"value": f"{i}.25"} if i % 2 else {})
        for i in range(40)
    ]
    batch = [
        (0, position(i, 0), catalog.price(parse_event(orjson.dumps(value))))
        for i, value in enumerate(outcomes)
    ]
    found = by_window(batch, {})
    assert found is not None and found == by_event(batch, {})
    windows = found[0]
    assert isinstance(windows, Mapping)
    assert max(w.outcome_value for w in windows.values()) > 0
    assert max(w.failed_outcomes for w in windows.values()) > 0
