"""CPU per event from message bytes to a batch's windows, this tree against a commit, in one process.

``python -m bench.ingest_stages [--against 4727d31] [--events N] [--rounds R]``
loads the hot-path modules as they were at ``--against`` (``git show``, into
modules of their own, their imports of each other rewritten to the old
copies) and runs both versions on the same messages, round after round in
turn, under the worker's collector settings. Per stage, microseconds of
process CPU per event (the best round of each, or with ``--statistic median`` the median):

- ``decode_and_price``: :meth:`BatchProcessor._decode_and_price` of
  ``--batch`` messages at a time;
- ``columns``: :meth:`EventColumns.of` of its counted events;
- ``dedup_ids``: the dedup's in-batch repeats dropped and each id's hash
  (:func:`streams.processor.first_ids`, or where the commit has none its
  ``id_keys``, ``_first_in_batch`` and ``key_hashes``);
- ``plan``: :func:`streams.window_batch.plan_windows` of those columns;
- ``fold``: :func:`streams.window_batch.fold_plan` of that plan onto its windows' records
  (:class:`streams.stored_windows.StoredWindows`) in a store of the run's own that every batch's
  changed windows are written to (``WindowChanges.pairs``, not timed), as the worker's table; the
  batches after the first find their windows there (``--batch`` below the workload's messages);
- ``coded_lists``: each column the batch holds as codes (:class:`streams.window_batch.Coded`: the
  plan's customers and agents, the ledger's price columns) read whole, as spend control reads them.

Both versions' windows, changed windows and counted events are checked equal first. The last
line is JSON.
"""

from __future__ import annotations

import argparse
import functools
import gc
import statistics
import sys
import time
import types
from collections.abc import Callable
from itertools import compress
from typing import Any

import numpy as np
import orjson

from bench.commit_modules import modules_at
from bench.workload import DAY, events, pack
from costline.config import Settings
from schemas.prices import load_price_dir
from streams.decoding import TimeBounds
from streams.dedup import DedupIndex, id_keys, key_hashes
from streams.garbage_collection import tune_for_worker
from streams.processor import RawMessage

# In import order: each may import the ones before it.
MODULES = [
    "streams.dedup",
    "streams.event_fast_path",
    "streams.decoding",
    "streams.pricing",
    "streams.aggregation",
    "streams.column_groups",
    "streams.window_batch",
    "streams.intake",
    "streams.processor",
]
SIZES = (60, 3600)


class Version:
    """One version's stages over the same messages."""

    def __init__(self, processor_module: Any, window_batch: Any, catalog: Any) -> None:
        processor = processor_module.BatchProcessor(
            catalog,
            None,
            None,
            DedupIndex(86_400),
            SIZES,
            {},
            None,
            bounds=TimeBounds.from_settings(Settings()),
        )
        self.decode_and_price: Callable[..., Any] = processor._decode_and_price
        self.columns_of: Callable[..., Any] = window_batch.EventColumns.of
        self.plan_windows: Callable[..., Any] = window_batch.plan_windows
        self.fold_plan: Callable[..., Any] = window_batch.fold_plan
        self.stored_windows: Callable[..., Any] = window_batch.StoredWindows
        self.first_ids: Callable[..., Any] = getattr(
            processor_module, "first_ids", None
        ) or functools.partial(_first_ids_by_keys, processor_module)
        self.stats = processor_module.BatchStats

    def run(self, batches: list[list[Any]], seconds: dict[str, float]) -> list[Any]:
        plans = []
        store: dict[bytes, bytes] = {}
        for batch in batches:
            started = time.process_time()
            counted, dead = self.decode_and_price(batch)
            priced = time.process_time()
            columns = self.columns_of(counted)
            taken = time.process_time()
            columns, hashes = self.first_ids(columns, self.stats())[:2]  # a commit's may add the keys
            deduped = time.process_time()
            plan = self.plan_windows(columns, SIZES)
            planned = time.process_time()
            folded = self.fold_plan(plan, self.stored_windows(list(map(store.get, plan.raw_keys))))
            done = time.process_time()
            if folded is not None:
                store.update(folded.changed.pairs())
            listing = time.process_time()
            lists = [list(column) for column in _coded(columns)]
            listed = time.process_time()
            seconds["decode_and_price"] += priced - started
            seconds["columns"] += taken - priced
            seconds["dedup_ids"] += deduped - taken
            seconds["plan"] += planned - deduped
            seconds["fold"] += done - planned
            seconds["coded_lists"] += listed - listing
            plans.append((counted, dead, plan, hashes, folded, lists))
        return plans


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="4727d31")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--span-s", type=float, default=10.0)
    parser.add_argument("--per-message", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1000, help="messages per batch")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--statistic", choices=["best", "median"], default="best", help="of each stage's rounds"
    )
    parser.add_argument("--gc", choices=["worker", "off"], default="worker", help="off: no collector")
    args = parser.parse_args(argv)

    # Broker time a minute after the workload's last event: every event within the bounds.
    received_ms = int((DAY.timestamp() + args.span_s + 60) * 1000)
    packed = pack(events(args.events, span_s=args.span_s), args.per_message)
    messages = [RawMessage("usage", 0, i, key, value, received_ms) for i, (key, value) in enumerate(packed)]
    batches = [messages[i : i + args.batch] for i in range(0, len(messages), args.batch)]
    old = modules_at(args.against, MODULES, missing_ok=True)
    prices = load_price_dir(Settings().prices_dir)
    new_modules = {name: sys.modules[name] for name in MODULES if name in sys.modules}
    versions = {
        "old": Version(old["streams.processor"], old["streams.window_batch"], _catalog(old, prices)),
        "new": Version(
            sys.modules["streams.processor"],
            sys.modules["streams.window_batch"],
            _catalog(new_modules, prices),
        ),
    }
    _check_same(versions["old"].run(batches, _zero()), versions["new"].run(batches, _zero()))
    tune_for_worker()
    if args.gc == "off":
        gc.disable()
    rounds: dict[str, dict[str, list[float]]] = {name: {stage: [] for stage in _zero()} for name in versions}
    for _ in range(args.rounds):
        for name, version in versions.items():
            seconds = _zero()
            version.run(batches, seconds)
            gc.collect()
            for stage, spent in seconds.items():
                rounds[name][stage].append(spent / args.events * 1e6)
    pick = min if args.statistic == "best" else statistics.median
    chosen = {
        name: {stage: pick(spent) for stage, spent in stages.items()} for name, stages in rounds.items()
    }
    figures: dict[str, Any] = {"events": args.events, "against": args.against, "statistic": args.statistic}
    for stage in _zero():
        figures[stage] = {name: round(chosen[name][stage], 3) for name in versions}
        print(f"{stage:<18} {chosen['old'][stage]:8.3f} -> {chosen['new'][stage]:8.3f} µs/event")
    total = {name: round(sum(chosen[name].values()), 3) for name in versions}
    figures["total"] = total
    print(f"{'total':<18} {total['old']:8.3f} -> {total['new']:8.3f} µs/event ({args.statistic} of rounds)")
    print(orjson.dumps(figures).decode())
    return 0


def _first_ids_by_keys(processor_module: Any, batch: Any, stats: Any) -> tuple[Any, Any, list[bytes]]:
    """What ``_drop_duplicates`` did before :func:`streams.processor.first_ids`: every id's key made."""
    keys = id_keys(batch.customers, batch.event_ids)
    first = processor_module._first_in_batch(keys, stats)
    if first is not None:
        batch = batch.select(first)
        keys = list(compress(keys, first.tolist()))
    return batch, key_hashes(keys), keys


def _catalog(modules: dict[str, types.ModuleType], prices: Any) -> Any:
    return modules["streams.pricing"].PriceCatalog(prices)


def _zero() -> dict[str, float]:
    stages = ("decode_and_price", "columns", "dedup_ids", "plan", "fold", "coded_lists")
    return dict.fromkeys(stages, 0.0)


def _check_same(old: list[Any], new: list[Any]) -> None:
    """The same counted events (positions, costs, every field), dead letters and windows."""
    for (old_counted, old_dead, old_plan, old_hashes, old_folded, old_lists), (
        new_counted,
        new_dead,
        new_plan,
        new_hashes,
        new_folded,
        new_lists,
    ) in zip(old, new, strict=True):
        assert old_lists == new_lists and [list(map(type, x)) for x in old_lists] == [
            list(map(type, x)) for x in new_lists
        ]
        assert old_hashes.tolist() == new_hashes.tolist()
        assert [(p, pos, _fields(e)) for p, pos, e in old_counted] == [
            (p, pos, _fields(e)) for p, pos, e in new_counted
        ]
        assert [d.row()[1:] for d in old_dead] == [d.row()[1:] for d in new_dead]
        assert old_plan.keys == new_plan.keys and old_plan.raw_keys == new_plan.raw_keys
        assert np.array_equal(old_plan.sums, new_plan.sums) and old_plan.quantities == new_plan.quantities
        assert [str(q) for q in old_plan.quantities] == [str(q) for q in new_plan.quantities]
        assert old_plan.exact == new_plan.exact
        assert (old_plan.last == new_plan.last).all() and (old_plan.first == new_plan.first).all()
        assert (old_folded is None) == (new_folded is None)
        if old_folded is not None:
            assert (old_folded.folded, old_folded.skipped) == (new_folded.folded, new_folded.skipped)
            assert old_folded.changed.pairs() == new_folded.changed.pairs()
            assert _texts(old_folded.changed.columns) == _texts(new_folded.changed.columns)
            assert (old_folded.changed.indexed == new_folded.changed.indexed).all()


def _coded(columns: Any) -> list[Any]:
    """The columns of ``columns`` (EventColumns, its LedgerFacts) held as codes, of either version."""
    held = [getattr(columns, name) for name in columns.__slots__ if hasattr(columns, name)]
    held += [getattr(columns.ledger, name) for name in columns.ledger.__slots__]
    return [column for column in held if type(column).__name__ == "Coded"]


def _texts(columns: list[list[Any]]) -> list[list[str]]:
    """Each value as its type and text: a Decimal's exponent counts."""
    return [[f"{type(value).__name__}:{value}" for value in column] for column in columns]


def _fields(priced: Any) -> tuple[Any, ...]:
    tokens = priced.tokens
    return (
        priced.event.model_dump(),
        priced.event.model_fields_set,
        str(priced.cost),
        priced.price_version,
        priced.sku,
        priced.provider,
        str(priced.quantity),
        priced.unit,
        tuple(getattr(tokens, name) for name in tokens.__slots__),
        priced.model_sent,
        priced.events,
        priced.cost_pico,
    )


if __name__ == "__main__":
    raise SystemExit(main())
