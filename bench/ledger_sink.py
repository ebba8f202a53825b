"""CPU per event of the ClickHouse sink writing a batch's ledger rows and windows, into the local server.

``python -m bench.ledger_sink [--events N] [--batch B] [--passes P]`` prices
the benchmark's live fleet (:mod:`bench.workload`, 10 s of traffic) and
folds it ``--batch`` events at a time, as the worker does, then times
:meth:`ClickHouseSink.write` of each batch (ledger rows and changed windows,
no dead letters) three ways, one after the other in each pass: through
clickhouse-connect's insert (``library``, the sink before the Native
blocks), with hand-built Native blocks (``native``), and those compressed
with LZ4 (``native_lz4``, what the sink does). The figure is the process CPU (event loop and
clickhouse-connect's serialisation thread; not the server's) per event, the
best of ``--passes``, under the worker's garbage collector settings. Needs
``costline services up`` and ``costline db migrate``; the rows stay in the
local ``ledger`` and ``cost_windows``. The last line is JSON.
"""

from __future__ import annotations

import asyncio
import time

import orjson

from bench import priced_workload as priced
from costline.clickhouse import open_async_client
from costline.config import Settings
from streams.aggregation import Counted, WindowAggregate, WindowKey, fold
from streams.garbage_collection import tune_for_worker
from streams.sinks.clickhouse_sink import ClickHouseSink

Batch = tuple[list[Counted], dict[WindowKey, WindowAggregate]]
WAYS = ("library", "native", "native_lz4")


def main(argv: list[str] | None = None) -> int:
    parser = priced.stage_arguments(__doc__)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args(argv)

    settings = Settings()
    catalog = priced.catalog(settings)
    usage = priced.decoded_usage(args.events)
    counted = priced.counted(usage, catalog)
    batches: list[Batch] = []
    for first in range(0, len(counted), args.batch):
        part = counted[first : first + args.batch]
        batches.append((part, dict(fold(part, (60, 3600), {}).changed)))
    tune_for_worker()  # as the worker runs: the default thresholds would time the collector
    seconds = asyncio.run(_write(settings, batches, args.passes))
    windows = sum(len(w) for _, w in batches)
    figures: dict[str, float] = {"events": len(counted), "window_rows": windows}
    for way in WAYS:
        figures[f"{way}_us_per_event"] = seconds[way] / len(counted) * 1e6
        print(f"{way:>10}: {figures[f'{way}_us_per_event']:.2f} µs CPU an event (ledger row + windows)")
    figures["speedup"] = seconds["library"] / seconds["native_lz4"]  # the sink's default
    print(
        f"{len(counted):,} events, {windows:,} window rows; native_lz4 is {figures['speedup']:.1f}x cheaper"
    )
    print(orjson.dumps(figures).decode())
    return 0


async def _write(settings: Settings, batches: list[Batch], passes: int) -> dict[str, float]:
    client = await open_async_client(settings)
    try:
        sinks = {way: ClickHouseSink(client, native=way != "library") for way in WAYS}
        sinks["native"].compression = None  # the sink compresses with LZ4 by default
        sinks["native_lz4"].compression = "lz4"
        best = dict.fromkeys(WAYS, float("inf"))
        for sink in sinks.values():
            await sink.write(*batches[0])  # the tables described once, as a running worker has them
        for _ in range(passes):
            for way, sink in sinks.items():
                started = time.process_time()
                for counted, windows in batches:
                    await sink.write(counted, windows)
                best[way] = min(best[way], time.process_time() - started)
        return best
    finally:
        await client.close()


if __name__ == "__main__":
    raise SystemExit(main())
