"""A backfill batch's dedup lookup, this tree against a commit: the worker's CPU and the server's, in turn.

``python -m bench.dedup_candidates [--against 8dce0ce] [--events 100000] [--batches 5] [--rounds 5]``

A fresh database fills the way a backfill does: ``--batches`` batches of ``--events`` bench events
(2026-11-20: every event older than the dedup horizon, so every id of a batch is asked about), each
written by the sink after its lookup. Before each write, the batch's ids are asked of ClickHouse by
``ClickHouseSink.counted_ids`` of ``--against`` (``git show``, loaded beside this tree's, as
:mod:`bench.sink_encode` does), from the ids as that commit's processor hands them over (its
``IdPairs`` of every id's key, where it has them), and by this tree's, ``--rounds`` times each in
turn (either first in a round). Per lookup: the process's CPU seconds (making the candidates, sending
them, reading the answer) and the server's (its process, from /proc: merges of the last write may
fall in either alike), the medians of the rounds. Both must find the same ids. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from bench import priced_workload
from bench.commit_modules import modules_at
from bench.ledger_bytes import server_cpu
from costline.clickhouse import open_async_client, open_client
from costline.config import Settings
from costline.migrations import migrate
from streams.dedup import IdColumns
from streams.sinks.clickhouse_sink import ClickHouseSink
from streams.window_batch import EventColumns

DATABASE = "costline_bench_dedup_candidates"
MODULES = ["streams.dedup", "streams.sinks.clickhouse_sink"]
Lookup = Callable[[], Awaitable[set[tuple[str, str]]]]


def lookups(
    old: dict[str, Any], old_sink: Any, new_sink: ClickHouseSink, batch: EventColumns
) -> dict[str, Lookup]:
    """Each version's lookup of every id of ``batch``, from the columns its processor reads."""
    customers, event_ids = batch.customers, batch.event_ids

    async def before() -> set[tuple[str, str]]:
        dedup = old["streams.dedup"]
        asked = dedup.IdPairs(dedup.id_keys(customers, event_ids)) if hasattr(dedup, "IdPairs") else None
        return set(
            await old_sink.counted_ids(
                asked if asked is not None else list(zip(customers, event_ids, strict=True))
            )
        )

    async def now() -> set[tuple[str, str]]:
        return set(await new_sink.counted_ids(IdColumns(customers, event_ids)))

    return {"old": before, "new": now}


async def run(settings: Settings, against: str, events: int, batches: int, rounds: int) -> dict[str, Any]:
    old = modules_at(against, MODULES)
    db = settings.model_copy(update={"clickhouse_database": DATABASE})
    admin = open_client(settings, database="")
    admin.command(f"DROP DATABASE IF EXISTS {DATABASE}")
    admin.close()
    migrate(db, log=lambda _: None)
    catalog = priced_workload.catalog(settings)
    usage = priced_workload.decoded_usage(events * batches)
    client = await open_async_client(db)
    sink = ClickHouseSink(client)
    old_sink = old["streams.sinks.clickhouse_sink"].ClickHouseSink(client)
    cpu = server_cpu(db)
    spent: dict[str, dict[str, list[float]]] = {v: {"worker": [], "server": []} for v in ("old", "new")}
    for b in range(batches):
        counted = priced_workload.counted(usage[b * events : (b + 1) * events], catalog)
        asks = lookups(old, old_sink, sink, EventColumns.of(counted))
        found: dict[str, set[tuple[str, str]]] = {}
        per_batch: dict[str, list[tuple[float, float]]] = {v: [] for v in asks}
        for r in range(rounds):
            for name in list(asks) if r % 2 == 0 else list(asks)[::-1]:
                server_before, worker_before = cpu() or 0.0, time.process_time()
                found[name] = await asks[name]()
                per_batch[name].append((time.process_time() - worker_before, (cpu() or 0.0) - server_before))
        assert found["old"] == found["new"], "the two lookups found other ids"
        for name, pairs in per_batch.items():
            spent[name]["worker"].append(statistics.median(w for w, _ in pairs))
            spent[name]["server"].append(statistics.median(s for _, s in pairs))
        print(
            f"batch {b}: {b * events:>9,} ids stored | worker CPU s old {spent['old']['worker'][-1]:.3f} "
            f"new {spent['new']['worker'][-1]:.3f} | server CPU s old {spent['old']['server'][-1]:.3f} "
            f"new {spent['new']['server'][-1]:.3f}",
            flush=True,
        )
        await sink.write(counted, {})
    await client.close()
    scale = 1_000_000 / (events * batches)
    figures: dict[str, Any] = {"against": against, "events": events * batches, "rounds": rounds}
    for name, sides in spent.items():
        for side, values in sides.items():
            figures[f"{name}_{side}_cpu_s_per_1m"] = sum(values) * scale
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="8dce0ce")
    parser.add_argument("--events", type=int, default=100_000, help="events a batch")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    figures = asyncio.run(run(Settings(), args.against, args.events, args.batches, args.rounds))
    for side in ("worker", "server"):
        print(
            f"{side} CPU s per 1M events looked up: old {figures[f'old_{side}_cpu_s_per_1m']:.2f}, "
            f"new {figures[f'new_{side}_cpu_s_per_1m']:.2f}"
        )
    print(orjson.dumps(figures).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
