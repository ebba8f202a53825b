"""The floor's windows are the worker's fold, down to each changelog record's bytes."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from bench.columnar.batch import decode_and_price_columns
from bench.columnar.blocks import changelog_records
from bench.columnar.fold import WindowStore, cells_of, fold_windows
from bench.workload import events, pack
from schemas.prices import load_price_dir
from streams.aggregation import fold
from streams.column_groups import Grouping
from streams.column_pricing import RateBook
from streams.intake import decode_and_price
from streams.pricing import PriceCatalog
from streams.processor import RawMessage
from tests.factories import DAY, PRICES

NOW = datetime(2026, 12, 5, tzinfo=UTC)
CATALOG = PriceCatalog([*load_price_dir(PRICES), *load_price_dir(PRICES / "demo")])
SIZES = (60, 3600)


def fleet() -> list[RawMessage]:
    """A day of the fleet, each customer on one of three partitions, as keyed topics place them."""
    packed = pack(events(3000, customers=20, agents=3, span_s=86_000.0, start=DAY), 20)
    return [
        RawMessage("usage", int(key[-2:]) % 3, i, key, value, None) for i, (key, value) in enumerate(packed)
    ]


def test_every_window_of_both_sizes_and_levels_is_the_worker_s_record_byte_for_byte() -> None:
    messages = fleet()
    floor = decode_and_price_columns(messages, RateBook(CATALOG), None, NOW)
    store = WindowStore()
    changed = fold_windows(cells_of(floor.columns, 60), SIZES, store)
    records = {key: value for pairs in changelog_records(changed, store).values() for key, value in pairs}
    counted, _ = decode_and_price(messages, CATALOG, None, NOW)
    worker = fold(list(counted), SIZES, {})
    assert records == {key.encode(): agg.encode() for key, agg in worker.changed.items()}


def test_a_second_batch_adds_to_the_windows_the_first_left() -> None:
    messages = fleet()
    store = WindowStore()
    for part in (messages[: len(messages) // 2], messages[len(messages) // 2 :]):
        floor = decode_and_price_columns(part, RateBook(CATALOG), None, NOW)
        changed = fold_windows(cells_of(floor.columns, 60), SIZES, store)
    records = {key: value for pairs in changelog_records(changed, store).values() for key, value in pairs}
    counted, _ = decode_and_price(messages, CATALOG, None, NOW)
    worker = {key.encode(): agg.encode() for key, agg in fold(list(counted), SIZES, {}).changed.items()}
    assert records and all(worker[key] == value for key, value in records.items())


def test_group_sums_past_int64_are_exact() -> None:
    values = np.array([2**62, 2**62, 2**62, -5, 7], np.int64)
    groups = Grouping.by(np.array([1, 1, 1, 0, 0], np.int64))
    assert groups.sum(values).tolist() == [2, 3 * 2**62]
