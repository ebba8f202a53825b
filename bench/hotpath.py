"""CPU per event of the worker's pure batch path, stage by stage, in one process.

``python -m bench.hotpath [--events N] [--span-s S] [--batch B]`` prints
microseconds of process CPU time per event for each stage the worker runs
on a batch before ClickHouse and Kafka (no I/O here, so a machine shared
with other work changes these figures far less than it changes events/s):

- ``decode``: :func:`streams.decoding.decode_message` over SDK-sized arrays;
- ``price``: :meth:`streams.pricing.PriceCatalog.price` of each event;
- ``fold``: the worker's fold of ``--batch`` events at a time, window by window
  (:mod:`streams.window_batch`: columns, cells, windows); ``fold_event_by_event``:
  :func:`streams.aggregation.fold`, its exact fallback, on the same events;
- ``process``: the whole :meth:`streams.processor.BatchProcessor.process` of
  ``--batch`` events at a time (decode, price, dedup, window keys, fold,
  window state encoding) with a sink that stores nothing, and the worker's
  table state on a plain dict without its changelog. Dedup runs at its
  default horizon; the workload's fixed day is old, so every id is looked
  up (the no-op sink finds none), as in ``bench.run``. It runs twice: under
  the worker's garbage-collector settings (:mod:`streams.garbage_collection`),
  ``process_us``, and under Python's defaults, ``process_default_gc_us``.
  ``after_price_us`` is the part of ``process_us`` after decode and price:
  dedup, window keys, fold and window state (issue #12's "fold share").

The other stages run under Python's default collector settings: ``decode_us``
and ``price_us``, which under those settings pay mostly for rescanning the
stage's own output (100k live events), and again under the worker's, as
``decode_worker_gc_us`` and ``price_worker_gc_us``.

Events are the benchmark's fleet (:mod:`bench.workload`); ``--span-s 10`` is
live traffic at 100k events/s, 86400 a day's backfill. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson

from bench.workload import events, pack
from costline.config import Settings
from schemas.dead_letters import DeadLetter
from schemas.prices import load_price_dir
from streams.aggregation import Counted, WindowAggregate, WindowKey, fold, position
from streams.decoding import decode_message
from streams.dedup import CountedId, DedupIndex, Hashes, Seconds
from streams.garbage_collection import tune_for_worker
from streams.pricing import PriceCatalog
from streams.processor import BatchProcessor, RawMessage
from streams.window_batch import EventColumns, fold_plan, plan_windows
from streams.window_state import TableState


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--span-s", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=100_000, help="events per fold (1,000 messages of 100)")
    parser.add_argument("--per-message", type=int, default=100)
    args = parser.parse_args(argv)

    messages = [value for _, value in pack(events(args.events, span_s=args.span_s), args.per_message)]
    catalog = PriceCatalog(load_price_dir(Settings().prices_dir))

    decode_s, price_s, priced = decode_and_price_seconds(messages, catalog)
    assert len(priced) == args.events

    counted = [(0, position(i, 0), item) for i, item in enumerate(priced)]
    started = time.process_time()
    for first in range(0, len(counted), args.batch):
        fold(counted[first : first + args.batch], (60, 3600), {})
    fold_event_by_event_s = time.process_time() - started
    started = time.process_time()
    for first in range(0, len(counted), args.batch):
        plan = plan_windows(EventColumns.of(counted[first : first + args.batch]), (60, 3600))
        assert fold_plan(plan, [None] * len(plan.keys)) is not None
    fold_s = time.process_time() - started

    per_batch = args.batch // args.per_message
    default_gc_s, _ = process_seconds(messages, catalog, per_batch)
    del counted, priced
    gc.collect()
    thresholds = gc.get_threshold()
    tune_for_worker()
    decode_worker_s, price_worker_s, _ = decode_and_price_seconds(messages, catalog)
    process_s, priced_s = process_seconds(messages, catalog, per_batch)
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    figures = {
        "events": args.events,
        "span_s": args.span_s,
        "decode_us": decode_s / args.events * 1e6,
        "price_us": price_s / args.events * 1e6,
        "decode_worker_gc_us": decode_worker_s / args.events * 1e6,
        "price_worker_gc_us": price_worker_s / args.events * 1e6,
        "fold_us": fold_s / args.events * 1e6,
        "fold_event_by_event_us": fold_event_by_event_s / args.events * 1e6,
        "process_us": process_s / args.events * 1e6,
        "after_price_us": (process_s - priced_s) / args.events * 1e6,
        "process_default_gc_us": default_gc_s / args.events * 1e6,
    }
    for name, value in figures.items():
        print(f"{name:<12} {value:>12,.2f}")
    print(orjson.dumps(figures).decode())
    return 0


def decode_and_price_seconds(messages: list[bytes], catalog: PriceCatalog) -> tuple[float, float, list[Any]]:
    """Process CPU seconds to decode every message, then to price every event, and the priced events.

    The events of all messages stay alive, as a stage's output does: a
    collector that rescans what is alive pays for that, as the worker's
    does over its windows and dedup ids.
    """
    started = time.process_time()
    decoded = [item.event for value in messages for item in decode_message(value)]
    decode_s = time.process_time() - started
    usage = [event for event in decoded if event is not None]
    started = time.process_time()
    priced = [catalog.price(event) for event in usage]
    return decode_s, time.process_time() - started, priced


# What a sink's write is handed: the counted events, the windows they changed, their columns.
Written = tuple[Sequence[Counted], Mapping[WindowKey, WindowAggregate], EventColumns | None]


class _NoSink:
    """Stores nothing and has counted nothing."""

    async def write(
        self,
        counted: Sequence[Counted],
        windows: Mapping[WindowKey, WindowAggregate],
        dead: Any = (),
        *,
        columns: EventColumns | None = None,
        meanwhile: Callable[[], object] | None = None,
    ) -> None:
        self.handed((counted, windows, columns), meanwhile)

    def handed(self, written: Written, meanwhile: Callable[[], object] | None) -> None:
        """What a write was handed, for a sink that keeps it: nothing kept here."""

    async def probe(self, counted: Sequence[Counted] = (), windows: Any = None) -> None:
        pass

    async def counted_ids(
        self, pairs: Iterable[tuple[str, str]], meanwhile: Callable[[], object] | None = None
    ) -> dict[tuple[str, str], list[CountedId]]:
        if meanwhile is not None:
            meanwhile()
        return {}

    async def counted_id_hashes(self, partition: int, since: float) -> tuple[Hashes, Seconds]:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.float64)

    async def load_windows(self, keys: Iterable[WindowKey]) -> dict[WindowKey, WindowAggregate]:
        return {}


class _Store:
    """A Faust table's memory store, as TableState uses it, without a changelog topic."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}


class _NoChangelog:
    def add(self, partition: int, key: bytes, value: bytes | None) -> None:
        pass

    def records_of(self, partition: int) -> list[tuple[bytes, bytes | None]]:
        return []  # appended to, then dropped

    async def flush(self) -> None:
        pass


def process_seconds(messages: list[bytes], catalog: PriceCatalog, per_batch: int) -> tuple[float, float]:
    """Process CPU seconds of ``BatchProcessor.process`` over ``messages``, ``per_batch`` at a time,
    and of those, the seconds of its decode and price."""
    state = TableState(_Store(), {60: 600, 3600: 7200})
    state.changelog = _NoChangelog()  # type: ignore[assignment]

    async def no_letters(letter: DeadLetter) -> None:
        pass

    processor = BatchProcessor(
        catalog, _NoSink(), state, DedupIndex(86_400), (60, 3600), {60: 600, 3600: 7200}, no_letters
    )
    decode_and_price = processor._decode_and_price
    priced_s = 0.0

    def timed(batch: Sequence[RawMessage]) -> tuple[Sequence[Counted], list[DeadLetter]]:
        nonlocal priced_s
        started = time.process_time()
        try:
            return decode_and_price(batch)
        finally:
            priced_s += time.process_time() - started

    processor._decode_and_price = timed  # type: ignore[method-assign,assignment]  # timed, here only
    raw = [
        RawMessage("usage", 0, i, orjson.loads(m)[0]["customer_id"].encode(), m)
        for i, m in enumerate(messages)
    ]

    async def run() -> float:
        started = time.process_time()
        for first in range(0, len(raw), per_batch):
            await processor.process(raw[first : first + per_batch])
        return time.process_time() - started

    return asyncio.run(run()), priced_s


if __name__ == "__main__":
    raise SystemExit(main())
