"""CPU per event of the worker's pure batch path, stage by stage, in one process.

``python -m bench.hotpath [--events N] [--span-s S] [--batch B]`` prints
microseconds of process CPU time per event for each stage the worker runs
on a batch before ClickHouse and Kafka (no I/O here, so a machine shared
with other work changes these figures far less than it changes events/s):

- ``decode``: :func:`streams.decoding.decode_message` over SDK-sized arrays;
- ``price``: :meth:`streams.pricing.PriceCatalog.price` of each event;
- ``fold``: :func:`streams.aggregation.fold` of ``--batch`` events at a time.

Events are the benchmark's fleet (:mod:`bench.workload`); ``--span-s 10`` is
live traffic at 100k events/s, 86400 a day's backfill. The last line is JSON.
"""

from __future__ import annotations

import argparse
import time

import orjson

from bench.workload import events, pack
from costline.config import Settings
from schemas.prices import load_price_dir
from streams.aggregation import fold, position
from streams.decoding import decode_message
from streams.pricing import PriceCatalog


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--span-s", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=100_000, help="events per fold (1,000 messages of 100)")
    parser.add_argument("--per-message", type=int, default=100)
    args = parser.parse_args(argv)

    messages = [value for _, value in pack(events(args.events, span_s=args.span_s), args.per_message)]
    catalog = PriceCatalog(load_price_dir(Settings().prices_dir))

    started = time.process_time()
    decoded = [item.event for value in messages for item in decode_message(value)]
    decode_s = time.process_time() - started
    usage = [event for event in decoded if event is not None]
    assert len(usage) == args.events

    started = time.process_time()
    priced = [catalog.price(event) for event in usage]
    price_s = time.process_time() - started

    counted = [(0, position(i, 0), item) for i, item in enumerate(priced)]
    started = time.process_time()
    for first in range(0, len(counted), args.batch):
        fold(counted[first : first + args.batch], (60, 3600), {})
    fold_s = time.process_time() - started

    figures = {
        "events": args.events,
        "span_s": args.span_s,
        "decode_us": decode_s / args.events * 1e6,
        "price_us": price_s / args.events * 1e6,
        "fold_us": fold_s / args.events * 1e6,
    }
    for name, value in figures.items():
        print(f"{name:<12} {value:>12,.2f}")
    print(orjson.dumps(figures).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
