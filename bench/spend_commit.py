"""CPU per event of spend control's commit (its records encoded and written), old against new.

As :mod:`bench.spend_cost` (the same events, spend modules of ``--against``
loaded from git beside this tree's, runs interleaved), timing also the parts of
each batch's apply that are :meth:`SpendControl._commit`, (no budget is
loaded) :meth:`SpendRules._limits_only`, :class:`BatchEvents` and the hourly spike detector's
fold (``hourly``: its batch sums, its plans of stretches and its keys' folds; ``plans``: the plans
alone; ``keys``: the keys' folds alone); each batch
handed its columns as the worker does, customers and agents numbered as its
window plan leaves them (``--objects``: not; ``--between-batches``: the collector off inside a batch,
as the worker has it). ``--wire``: each batch read from its messages as
the worker reads them (:func:`streams.intake.decode_and_price`, afresh for each run, untimed),
its events' objects made only where read, and applied with the collector held off as the worker
applies it. Medians of ``--rounds``; ``same``: both fired the same alerts and wrote the same
records (as read back). The last line is JSON.

    .venv/bin/python -m bench.spend_commit [--events 500000] [--span-s 5] [--against dcd6c19] [--rounds 3]
        [--between-batches] [--wire [--steady]]

``--steady``: the timed batches find their keys' records stored (and kept decoded, as a worker keeps
the records it wrote), as at a worker's steady state: before each run, untimed, the same fleet's events
at the same time of day two weeks and one week before (so its hourly keys have a weekly baseline) and
in the span just before (so they have the hour's spend so far), then the timed events half an hour
into the hour; the hourly ratio at 20, as those weeks hold seconds of their hour, not all of it.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import statistics
import time
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from bench.spend_cost import EMITTED_AT, PARTITIONS, counted_batches, load_spend_modules, run, table_content
from bench.workload import DAY, events, pack
from costline.config import Settings
from schemas.prices import load_price_dir
from streams.column_groups import codes
from streams.decoding import TimeBounds
from streams.garbage_collection import tune_for_worker
from streams.intake import decode_and_price
from streams.pricing import PriceCatalog
from streams.processor import RawMessage
from streams.window_batch import Coded, EventColumns


def _timed_run(
    modules: Any,
    settings: Settings,
    batches: list[Any],
    columns: list[EventColumns] | None,
    between: bool,
    history: Sequence[EventColumns] = (),
) -> tuple[float, float, float, float, float, float, float, Any]:
    """CPU seconds of every batch's apply, of their commits, of their limits (no budget loaded:
    :meth:`SpendRules._limits_only`), of their :class:`BatchEvents`, of the hourly spike detector's
    fold, of its plans and of its keys' folds, and the control after them; ``history``: batches
    applied before, untimed."""
    control = importlib.import_module(f"{modules.__name__}.spend_control")
    rules = importlib.import_module(f"{modules.__name__}.spend_rules")
    anomaly = importlib.import_module(f"{modules.__name__}.anomaly_rules")
    commit, limits, spent = control.SpendControl._commit, rules.SpendRules._limits_only, [0.0] * 6
    events = anomaly.BatchEvents.__init__
    # The hourly detector's parts (fold looks the functions up as it calls them).
    hourly = {"_batch_spend": anomaly, "_hourly_runs": anomaly, "hourly_spikes": anomaly._Fold}
    originals = {name: getattr(owner, name) for name, owner in hourly.items()}

    def timed_hourly(call: Any, part: int) -> Any:
        def timed_part(*args: Any) -> Any:
            started = time.process_time()
            try:
                return call(*args)
            finally:
                took = time.process_time() - started
                spent[3] += took
                if part:
                    spent[part] += took

        return timed_part

    def timed_events(self: Any, *args: Any) -> None:
        started = time.process_time()
        try:
            events(self, *args)
        finally:
            spent[2] += time.process_time() - started

    async def timed(self: Any, *args: Any) -> Any:
        started = time.process_time()
        try:
            return await commit(self, *args)
        finally:
            spent[0] += time.process_time() - started

    def timed_limits(self: Any, *args: Any) -> Any:
        started = time.process_time()
        try:
            return limits(self, *args)
        finally:
            spent[1] += time.process_time() - started

    control.SpendControl._commit, rules.SpendRules._limits_only = timed, timed_limits
    anomaly.BatchEvents.__init__ = timed_events
    for name, owner in hourly.items():
        part = 4 if name == "_hourly_runs" else 5 if name == "hourly_spikes" else 0
        setattr(owner, name, timed_hourly(originals[name], part))
    try:
        gc.collect()
        given = [(c.counted, c) for c in history]
        total, spend = run(
            modules,
            settings,
            batches,
            columns,
            between,
            given,
            lambda: spent.__setitem__(slice(None), [0.0] * len(spent)),
        )
    finally:
        control.SpendControl._commit, rules.SpendRules._limits_only = commit, limits
        anomaly.BatchEvents.__init__ = events
        for name, owner in hourly.items():
            setattr(owner, name, originals[name])
    return total, *spent, spend


def _as_planned(columns: EventColumns) -> EventColumns:
    """``columns`` as the worker hands them to spend control: plan_windows numbered their customers and
    agents (the detectors group the events by those codes)."""
    columns.customer_codes = Coded(*codes(columns.customers))
    columns.agent_codes = Coded(*codes(columns.agents))
    return columns


def _wire_batches(
    n: int, span_s: float, catalog: PriceCatalog, starts: Sequence[datetime] = (DAY,)
) -> Callable[..., list[list[EventColumns]]]:
    """The fleet's messages from each of ``starts``, a thousand a batch on 8 partitions (positions going
    on from one start to the next, each message received as its events end), and what reads each
    start's batches' columns afresh (no event's object made yet) as the worker hands them over (from
    the ``since``-th start on)."""
    offsets = [0] * PARTITIONS
    bounds = TimeBounds.from_settings(Settings())
    parts: list[list[list[RawMessage]]] = []
    for start in starts:
        received_ms = int((start.timestamp() + span_s + 60) * 1000)
        messages = []
        for key, value in pack(events(n, span_s=span_s, start=start), 100):
            partition = zlib.crc32(key) % PARTITIONS
            messages.append(RawMessage("usage", partition, offsets[partition], key, value, received_ms))
            offsets[partition] += 1
        parts.append([messages[i : i + 1000] for i in range(0, len(messages), 1000)])
    read = lambda batch: _as_planned(EventColumns.of(decode_and_price(batch, catalog, bounds, EMITTED_AT)[0]))  # noqa: E731
    return lambda since=0: [list(map(read, part)) for part in parts[since:]]


def _steady_starts(span_s: float) -> list[datetime]:
    """Where ``--steady``'s events start: its history (the same hour two weeks and one week before,
    then the span just before in the same hour), then the timed events, half an hour into the day's
    first hour."""
    timed = DAY + timedelta(minutes=30)
    return [timed - timedelta(weeks=2), timed - timedelta(weeks=1), timed - timedelta(seconds=span_s), timed]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--span-s", type=float, default=5.0)
    parser.add_argument("--against", default="dcd6c19")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--objects", action="store_true", help="the events' objects, not the batch's columns")
    parser.add_argument(
        "--between-batches", action="store_true", help="no collection inside a batch, as the worker runs it"
    )
    parser.add_argument("--wire", action="store_true", help="the batches read from messages, as the worker")
    parser.add_argument(
        "--steady",
        action="store_true",
        help="(with --wire) the keys' records stored before, as at a worker's steady state: the same fleet's "
        "events two weeks and one week before and in the span just before, applied first, untimed",
    )
    args = parser.parse_args(argv)
    if args.steady and not args.wire:
        parser.error("--steady reads its history from messages: give --wire too")
    # --steady: the weeks before hold seconds of their hour where a worker's hold all of it, and their
    # minutes stay in a key's trailing window's bound (HourlySpend._cannot_fire sums them all): with the
    # hourly ratio at 20 the hour at hand weighs against them as against whole hours (none fires).
    settings = Settings(anomaly_hourly_ratio=Decimal(20)) if args.steady else Settings()
    catalog = PriceCatalog(load_price_dir(settings.prices_dir))
    starts = _steady_starts(args.span_s) if args.steady else [DAY]
    wire = _wire_batches(args.events, args.span_s, catalog, starts) if args.wire else None
    history: list[EventColumns] = []
    columns = wire(len(starts) - 1)[0] if wire is not None else None
    batches: list[Any] = (
        [c.counted for c in columns]
        if columns is not None
        else counted_batches(args.events, args.span_s, 100, 1000, catalog)
    )
    n = sum(map(len, batches))
    tune_for_worker()
    if columns is None and not args.objects:
        columns = [_as_planned(EventColumns.of(batch)) for batch in batches]
    contenders = (("old", load_spend_modules(args.against)), ("new", importlib.import_module("streams")))
    samples: dict[str, list[float]] = {}
    outcomes: dict[str, Any] = {}
    for _ in range(args.rounds):  # interleaved: a noisy neighbour weighs on both
        for name, modules in contenders:
            if wire is not None:  # no event's object made by the run before (the untimed history: read once)
                columns = wire(len(starts) - 1)[0]
                history = history or [c for part in wire()[:-1] for c in part]
                batches = [c.counted for c in columns]
            total, commit, limits, events, hourly, plans, keys, outcomes[name] = _timed_run(
                modules, settings, batches, columns, args.between_batches or wire is not None, history
            )
            for part, seconds in (
                ("apply", total),
                ("commit", commit),
                ("limits", limits),
                ("events", events),
                ("hourly", hourly),
                ("plans", plans),
                ("keys", keys),
            ):
                samples.setdefault(f"{name}_{part}_us", []).append(seconds / n * 1e6)
    figures: dict[str, Any] = {key: round(statistics.median(values), 3) for key, values in samples.items()}
    old, new = outcomes["old"], outcomes["new"]
    figures["alerts"] = len(new.outlet.alerts)
    figures["same"] = [a.payload() for a in old.outlet.alerts] == [
        a.payload() for a in new.outlet.alerts
    ] and (table_content(old.records.table.data) == table_content(new.records.table.data))
    for key, value in figures.items():
        print(f"{key:16} {value}")
    given = {"events": n, "rounds": args.rounds, "columns": columns is not None, "wire": wire is not None,
             "steady": args.steady}  # fmt: skip
    print(orjson.dumps({**given, "between_batches": args.between_batches, **figures}).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
