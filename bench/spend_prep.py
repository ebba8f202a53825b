"""CPU of spend control's preparation of a batch, before any detector runs, old against new.

The preparation as :meth:`streams.anomaly_rules.AnomalyRules.fold` makes it: the batch's
:class:`BatchEvents` with its groups and key runs (``events``), its :func:`_batch_spend` (``spend``)
and the hourly runs of its customers and of its agents (``hourly``), on :mod:`bench.workload`'s fleet
in batches of 100k events handed their columns as the worker hands them: ``--planned``, numbered
by a window plan (the worker's); ``--wire``: read from the messages as the worker reads them
(:func:`streams.intake.decode_and_price`) and planned. ``--against COMMIT``: the spend modules
of that commit (:func:`bench.spend_cost.load_spend_modules`), on the same batches, interleaved,
``--rounds`` times; medians in µs per event, and ``same``: both made the same units, groups,
sums and stretches. The last line is JSON.

    .venv/bin/python -m bench.spend_prep [--events 300000] [--planned | --wire] --against 7503e01
"""

from __future__ import annotations

import argparse
import gc
import importlib
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from bench.spend_commit import _as_planned, _wire_batches
from bench.spend_cost import counted_batches, load_spend_modules
from costline.config import Settings
from schemas.prices import load_price_dir
from streams.pricing import PriceCatalog
from streams.window_batch import EventColumns

PARTS = ("events", "spend", "hourly")


def prepare(anomaly: Any, columns: EventColumns, seconds: dict[str, float]) -> tuple[Any, ...]:
    """The fold's preparation of ``columns``' batch by module ``anomaly``, each part's CPU added to
    ``seconds``; what it made."""

    def timed(part: str, call: Callable[[], Any]) -> Any:
        started = time.process_time()
        made = call()
        seconds[part] += time.process_time() - started
        return made

    def events() -> tuple[Any, ...]:
        made = anomaly.BatchEvents(columns.counted, columns)
        return made, made.groups(), made.key_runs()

    batch_events, (by_agent, by_customer), (agent_runs, customer_runs) = timed("events", events)
    spend = timed("spend", lambda: anomaly._batch_spend(batch_events))
    customers, agents = frozenset[str](), frozenset(("agent",))
    hourly = timed("hourly", lambda: (anomaly._hourly_runs(spend, customer_runs, customers),
                                      anomaly._hourly_runs(spend, agent_runs, agents)))  # fmt: skip
    return batch_events, by_agent, by_customer, spend, hourly


def _arrays(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _arrays(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_arrays(v) for v in value]
    return repr(value) if value.__class__.__name__ == "Decimal" else value


def fingerprint(made: tuple[Any, ...]) -> Any:
    """What the preparation made, comparable across modules (Decimal forms included)."""
    events, by_agent, by_customer, spend, hourly = made
    seen = [events.units, events.missing, events.ordered, list(by_agent.items()), list(by_customer.items())]
    if spend is not None:
        seen += [_arrays(spend.units), _arrays(spend.exponents), _arrays(list(spend.kinds))]
    for runs in hourly:
        if runs is not None:
            seen.append({name: _arrays(getattr(runs, name)) for name in runs.__slots__
                         if not name.startswith("_") and name != "kinds"})  # fmt: skip
            seen.append([_arrays([k.kind, k.names, k.totals, k.costliest, k.bounds]) for k in runs.kinds])
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--against", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--planned", action="store_true", help="customers and agents numbered by a window plan"
    )
    parser.add_argument("--wire", action="store_true", help="read from messages, as the worker reads them")
    args = parser.parse_args(argv)
    settings = Settings()
    catalog = PriceCatalog(load_price_dir(settings.prices_dir))
    span_s = args.events / 100_000
    if args.wire:
        batches = _wire_batches(args.events, span_s, catalog)()[0]
    else:
        batches = [EventColumns.of(b) for b in counted_batches(args.events, span_s, 100, 1000, catalog)]
        if args.planned:
            batches = list(map(_as_planned, batches))
    n = sum(map(len, batches))
    contenders = {"old": load_spend_modules(args.against), "new": importlib.import_module("streams")}
    modules = {name: importlib.import_module(f"{m.__name__}.anomaly_rules") for name, m in contenders.items()}
    figures: dict[str, list[float]] = {f"{name}_{part}": [] for name in modules for part in (*PARTS, "all")}
    same = True
    gc.collect()
    gc.disable()  # as the worker judges a batch: the collector held off
    try:
        for _ in range(args.rounds):
            for name, anomaly in modules.items():
                seconds = dict.fromkeys(PARTS, 0.0)
                for columns in batches:
                    prepare(anomaly, columns, seconds)
                for part in PARTS:
                    figures[f"{name}_{part}"].append(seconds[part] / n * 1e6)
                figures[f"{name}_all"].append(sum(seconds.values()) / n * 1e6)
                gc.collect()
        for columns in batches:
            same = same and fingerprint(prepare(modules["old"], columns, dict.fromkeys(PARTS, 0.0))) == (
                fingerprint(prepare(modules["new"], columns, dict.fromkeys(PARTS, 0.0)))
            )
    finally:
        gc.enable()
    result: dict[str, Any] = {"events": n, "rounds": args.rounds, "planned": args.planned, "wire": args.wire}
    for key, values in figures.items():
        result[f"{key}_us"] = round(statistics.median(values), 4)
        result[f"{key}_spread"] = round(max(values) - min(values), 4)
        middle, spread = statistics.median(values), max(values) - min(values)
        print(f"{key:<14} median {middle:7.3f} us/event  spread {spread:6.3f}")
    result["same"] = same
    print(f"same {same}")
    print(orjson.dumps(result).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
