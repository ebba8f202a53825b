"""CPU per event of spend control's commit (its records encoded and written), old against new.

As :mod:`bench.spend_cost` (the same events, spend modules of ``--against``
loaded from git beside this tree's, runs interleaved), timing also the part of
each batch's apply that is :meth:`SpendControl._commit`. The last line is JSON.

    .venv/bin/python -m bench.spend_commit [--events 500000] [--span-s 5] [--against dcd6c19]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import time
from typing import Any

import orjson

from bench.spend_cost import counted_batches, load_spend_modules, run
from costline.config import Settings
from schemas.prices import load_price_dir
from streams.garbage_collection import tune_for_worker
from streams.pricing import PriceCatalog


def _timed_run(modules: Any, settings: Settings, batches: list[Any]) -> tuple[float, float]:
    """CPU seconds of every batch's apply, and of their commits."""
    control = importlib.import_module(f"{modules.__name__}.spend_control")
    commit, spent = control.SpendControl._commit, [0.0]

    async def timed(self: Any, *args: Any) -> Any:
        started = time.process_time()
        try:
            return await commit(self, *args)
        finally:
            spent[0] += time.process_time() - started

    control.SpendControl._commit = timed
    try:
        gc.collect()
        total, _ = run(modules, settings, batches)
    finally:
        control.SpendControl._commit = commit
    return total, spent[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--span-s", type=float, default=5.0)
    parser.add_argument("--against", default="dcd6c19")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    settings = Settings()
    catalog = PriceCatalog(load_price_dir(settings.prices_dir))
    batches = counted_batches(args.events, args.span_s, 100, 1000, catalog)
    n = sum(map(len, batches))
    tune_for_worker()
    contenders = (("old", load_spend_modules(args.against)), ("new", importlib.import_module("streams")))
    figures: dict[str, float] = {}
    for _ in range(args.rounds):  # interleaved: a noisy neighbour weighs on both
        for name, modules in contenders:
            total, commit = _timed_run(modules, settings, batches)
            for part, seconds in (("apply", total), ("commit", commit)):
                key = f"{name}_{part}_us"
                figures[key] = round(min(figures.get(key, float("inf")), seconds / n * 1e6), 3)
    for key, value in figures.items():
        print(f"{key:16} {value}")
    print(orjson.dumps({"events": n, **figures}).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
