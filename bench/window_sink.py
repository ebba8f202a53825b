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

import argparse
import asyncio
import time

import orjson

from bench.workload import events, pack
from costline.clickhouse import open_async_client
from costline.config import Settings
from schemas.prices import load_price_dir
from streams.aggregation import WindowAggregate, WindowKey, fold, position
from streams.decoding import decode_message
from streams.pricing import PriceCatalog
from streams.sinks.clickhouse_sink import ClickHouseSink


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000, help="events a worker batch")
    args = parser.parse_args(argv)

    settings = Settings()
    catalog = PriceCatalog(load_price_dir(settings.prices_dir))
    messages = [value for _, value in pack(events(args.events, span_s=10.0), 100)]
    usage = [item.event for value in messages for item in decode_message(value) if item.event is not None]
    counted = [(0, position(i, 0), catalog.price(event)) for i, event in enumerate(usage)]
    batches = [
        fold(counted[first : first + args.batch], (60, 3600), {}).changed
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
