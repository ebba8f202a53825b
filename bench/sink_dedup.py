"""CPU per event of the worker's ClickHouse sink and dedup, this tree's code against a base commit's.

``python -m bench.sink_dedup [--base REV] [--events N] [--batch B] [--passes P]``
prices the benchmark's live fleet (:mod:`bench.workload`, 10 s of traffic)
and, ``--batch`` events at a time as the worker does, times in one process:

- ``sink``: :meth:`ClickHouseSink.write` of each batch (ledger rows and the
  changed windows; each sink given the batch's ``EventColumns`` as the
  processor gives it, where its ``write`` takes them) into the local server, process CPU and wall time,
  each batch's events read just before (untimed) as the processor reads them;
  ``sink_encode``: the same writes through a client that sends nothing;
- ``dedup``: :meth:`BatchProcessor._drop_duplicates` of each batch at the
  default horizon: the workload's day is old, so every id is a suspect and
  is looked up in ``event_ids`` (ids made unique to the run, so none is
  found), as in ``bench.run``. Its ``EventColumns.of`` is included.

The base's ``streams/sinks/{native_block,table_columns,clickhouse_sink}.py``
and ``streams/processor.py`` are read with ``git show REV:path`` into
modules of their own; everything else is this tree's. Each figure is the
best of ``--passes``, base and this tree alternating, under the worker's
garbage collector settings. Needs ``costline services up`` and ``costline db
migrate``; the rows stay in the local ``ledger`` and ``cost_windows``. The
last line is JSON.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import subprocess
import sys
import time
import uuid
from types import ModuleType
from typing import Any

import numpy as np
import orjson

from bench import priced_workload as priced
from costline.clickhouse import open_async_client
from costline.config import Settings
from streams import processor
from streams.aggregation import Counted, fold
from streams.dedup import DedupIndex
from streams.garbage_collection import tune_for_worker
from streams.pricing import PriceCatalog
from streams.sinks import clickhouse_sink
from streams.window_batch import EventColumns

_SINK_MODULES = ("native_block", "table_columns", "clickhouse_sink")


def main(argv: list[str] | None = None) -> int:
    parser = priced.stage_arguments(__doc__)
    parser.add_argument("--base", default="4727d31", help="the commit to compare with")
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args(argv)

    base = _base_modules(args.base)
    settings = Settings()
    catalog = priced.catalog(settings)
    usage = priced.decoded_usage(args.events)
    run = uuid.uuid4().hex[:8]  # ids no earlier run stored
    unique = [e.model_copy(update={"event_id": f"{e.event_id}-{run}"}) for e in usage]
    counted = priced.counted(usage, catalog)
    fresh = priced.counted(unique, catalog)
    cut = range(0, len(counted), args.batch)
    sink_batches = [
        (counted[i : i + args.batch], fold(counted[i : i + args.batch], (60, 3600), {}).changed) for i in cut
    ]
    dedup_batches = [fresh[i : i + args.batch] for i in cut]
    tune_for_worker()
    seconds = asyncio.run(_measure(settings, catalog, base, sink_batches, dedup_batches, args.passes))
    figures: dict[str, Any] = {"base": args.base, "events": len(counted)}
    for name, value in seconds.items():
        figures[f"{name}_us_per_event"] = round(value / len(counted) * 1e6, 3)
    for stage in ("sink_cpu", "sink_wall", "sink_encode_cpu", "dedup_cpu"):
        old, new = figures[f"base_{stage}_us_per_event"], figures[f"new_{stage}_us_per_event"]
        print(f"{stage:>10}: {old:7.2f} -> {new:7.2f} µs an event ({old / new:.2f}x)")
    print(orjson.dumps(figures).decode())
    return 0


def _base_modules(rev: str) -> dict[str, ModuleType]:
    """The base commit's sink modules and processor, each wired to the base's others."""
    modules: dict[str, ModuleType] = {}
    renames = {
        f"from streams.sinks import {name}": f"import _base_{name} as {name}" for name in _SINK_MODULES
    }
    renames |= {f"from streams.sinks.{name} import": f"from _base_{name} import" for name in _SINK_MODULES}
    for name, path in [
        *((n, f"streams/sinks/{n}.py") for n in _SINK_MODULES),
        ("processor", "streams/processor.py"),
    ]:
        source = subprocess.run(
            ["git", "show", f"{rev}:{path}"], capture_output=True, text=True, check=True
        ).stdout
        for old, new in renames.items():
            source = source.replace(old, new)
        module = ModuleType(f"_base_{name}")
        sys.modules[module.__name__] = module  # dataclasses look their module up
        exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)
        modules[name] = module
    return modules


async def _measure(
    settings: Settings,
    catalog: PriceCatalog,
    base: dict[str, ModuleType],
    sink_batches: list[Any],
    dedup_batches: list[list[Counted]],
    passes: int,
) -> dict[str, float]:
    client = await open_async_client(settings)
    try:
        ways = {
            "base": (base["clickhouse_sink"].ClickHouseSink(client), base["processor"]),
            "new": (clickhouse_sink.ClickHouseSink(client), processor),
        }
        best: dict[str, float] = {}
        # A base from before the sink took the processor's columns writes without them.
        takes_columns = {
            way: "columns" in inspect.signature(sink.write).parameters for way, (sink, _) in ways.items()
        }
        for sink, _ in ways.values():
            await sink.write(*sink_batches[0])  # the tables described once, as a running worker has them
        # The same sinks with a client that takes each insert and sends nothing: encoding alone.
        offline = {way: copy.copy(sink) for way, (sink, _) in ways.items()}
        for sink in offline.values():
            sink.client = _Offline()  # type: ignore[assignment]
        for _ in range(passes):
            for way, (sink, module) in ways.items():
                cpu = wall = 0.0
                encode = 0.0
                for counted, windows in sink_batches:
                    # The processor's read of the batch, just before it writes: not timed, but it
                    # leaves the batch's events in the cache as the worker's sink finds them.
                    columns = EventColumns.of(counted)
                    given = {"columns": columns} if takes_columns[way] else {}
                    started, wall_started = time.process_time(), time.perf_counter()
                    await sink.write(counted, windows, **given)
                    cpu += time.process_time() - started
                    wall += time.perf_counter() - wall_started
                    columns = EventColumns.of(counted)
                    given = {"columns": columns} if takes_columns[way] else {}
                    started = time.process_time()
                    await offline[way].write(counted, windows, **given)
                    encode += time.process_time() - started
                _keep_best(best, f"{way}_sink_cpu", cpu)
                _keep_best(best, f"{way}_sink_wall", wall)
                _keep_best(best, f"{way}_sink_encode_cpu", encode)
                dedup = module.BatchProcessor(
                    catalog, sink, None, DedupIndex(86_400), (60, 3600), {}, _no_letters
                )
                await dedup._filter(0)  # rebuilt once after an assignment, not a batch's cost
                cpu = time.process_time()
                for batch in dedup_batches:
                    kept = await dedup._drop_duplicates(batch, module.BatchStats())
                    assert len(kept) == len(batch)
                _keep_best(best, f"{way}_dedup_cpu", time.process_time() - cpu)
        return best
    finally:
        await client.close()


class _Offline:
    """A ClickHouse client that takes every insert and sends nothing."""

    async def raw_insert(self, *args: Any, **kwargs: Any) -> None:
        pass


def _keep_best(best: dict[str, float], name: str, seconds: float) -> None:
    best[name] = min(best.get(name, np.inf), seconds)


async def _no_letters(letter: Any) -> None:
    pass


if __name__ == "__main__":
    raise SystemExit(main())
