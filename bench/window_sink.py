"""CPU per window row of the ClickHouse sink writing ``cost_windows``, into the local server.

``python -m bench.window_sink [--events N] [--batch B]`` folds the benchmark's
live fleet (:mod:`bench.workload`, 10 s of traffic) ``--batch`` events at a
time, as the worker does, then times :meth:`ClickHouseSink.write` of each
batch's windows (no ledger rows): process CPU of both the event loop and the
serialisation thread, best of three passes, per window row. The server's own
CPU is not counted. Needs ``costline services up`` and ``costline db migrate``;
the rows it writes stay in the local ``cost_windows``. The last line is JSON.
"""

from __future__ import annotations

import asyncio
import time

import orjson

from bench import priced_workload as priced
from costline.clickhouse import open_async_client
from costline.config import Settings
from streams.aggregation import WindowAggregate, WindowKey, fold
from streams.sinks.clickhouse_sink import ClickHouseSink


def main(argv: list[str] | None = None) -> int:
    parser = priced.stage_arguments(__doc__)
    args = parser.parse_args(argv)

    settings = Settings()
    catalog = priced.catalog(settings)
    usage = priced.decoded_usage(args.events)
    counted = priced.counted(usage, catalog)
    batches = [
        dict(fold(counted[first : first + args.batch], (60, 3600), {}).changed)
        for first in range(0, len(counted), args.batch)
    ]
    rows = sum(map(len, batches))
    seconds = asyncio.run(_write(settings, batches))
    figures = {"events": args.events, "window_rows": rows, "window_row_us": seconds / rows * 1e6}
    print(f"{rows:,} window rows of {args.events:,} events: {figures['window_row_us']:.2f} µs CPU a row")
    print(orjson.dumps(figures).decode())
    return 0


async def _write(settings: Settings, batches: list[dict[WindowKey, WindowAggregate]]) -> float:
    client = await open_async_client(settings)
    try:
        sink = ClickHouseSink(client)
        await sink.write((), batches[0])  # the table described once, as a running worker has it
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            for windows in batches:
                await sink.write((), windows)
            best = min(best, time.process_time() - started)
        return best
    finally:
        await client.close()


if __name__ == "__main__":
    raise SystemExit(main())
