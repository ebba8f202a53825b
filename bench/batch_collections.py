"""CPU per batch of the worker's batch path and the collection each batch owes, old against new, in process.

Runs :meth:`streams.processor.BatchProcessor.process` (decode, price, dedup, windows, spend control with
its default detectors, no budget loaded; a sink that stores nothing, the tables plain dicts without
changelogs) over the fleet's messages, ``--batch-messages`` of ``--per-message`` events a batch on 8
partitions, as the worker runs it: under its collector settings (:func:`tune_for_worker`) and each batch
inside :func:`between_batches`, so the collection a batch owes runs right after it. A batch's time is the
process CPU from its start to the end of that collection. ``--events 1000000`` grows spend control's
records as a 1M-event run of ``bench.run`` does (the detectors of the fleet's keys, made as they come).

The spend modules of ``--against`` (:func:`bench.spend_cost.load_spend_modules`) run against this tree's,
each run on a processor, tables and spend control of its own, ``--rounds`` interleaved (either first
in turn). Per run: its
batches' CPU, its collections (``gc.callbacks``: how many, their CPU) and, after its last batch, the
objects the collector tracks and the process's RSS. Medians of the rounds; ``same``: both fired the same
alerts and wrote the same records and windows. The alerts go to the worker's outlet (each version's own),
stored to a table that keeps their payloads' text and published to a producer that keeps nothing. The
last line is JSON.

    .venv/bin/python -m bench.batch_collections [--events 1000000] [--against 3a53910] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import importlib
import statistics
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.hotpath import _NoChangelog, _NoSink, _Store
from bench.spend_cost import PARTITIONS, control, load_spend_modules, table_content
from bench.workload import DAY, events, pack
from costline.config import Settings
from schemas.dead_letters import DeadLetter
from schemas.prices import load_price_dir
from streams.decoding import TimeBounds
from streams.dedup import DedupIndex
from streams.garbage_collection import between_batches, tune_for_worker
from streams.pricing import PriceCatalog
from streams.processor import BatchProcessor, RawMessage
from streams.window_state import TableState

SIZES = (60, 3600)
RETENTION = {60: 600, 3600: 7200}


class _AlertsTable:
    """ClickHouse's ``alerts``, as the worker's outlet inserts: each row's payload kept, to compare."""

    def __init__(self) -> None:
        self.payloads: list[str] = []

    async def insert(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None:
        self.payloads += [row[-1] for row in rows]


class _Batch:
    def append(self, *, key: bytes, value: bytes | None, timestamp: None) -> bool:
        return True


class _Producer:
    """aiokafka's batch API, every batch acknowledged at once, nothing kept."""

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(PARTITIONS))

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> asyncio.Future[None]:
        delivery = asyncio.get_running_loop().create_future()
        delivery.set_result(None)
        return delivery


def messages(n: int, span_s: float, per_message: int, batch_messages: int) -> list[list[RawMessage]]:
    """The fleet's messages, each on its key's partition, in batches; each received as its events end."""
    offsets = [0] * PARTITIONS
    received_ms = int((DAY.timestamp() + span_s + 60) * 1000)
    raw: list[RawMessage] = []
    for key, value in pack(events(n, span_s=span_s), per_message):
        partition = zlib.crc32(key) % PARTITIONS
        raw.append(RawMessage("usage", partition, offsets[partition], key, value, received_ms))
        offsets[partition] += 1
    return [raw[i : i + batch_messages] for i in range(0, len(raw), batch_messages)]


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 1e6


def run(
    modules: Any, settings: Settings, catalog: PriceCatalog, batches: list[list[RawMessage]]
) -> dict[str, Any]:
    """One run of every batch on a processor and spend control of ``modules``' own: its figures, and
    what it wrote (``outcome``)."""
    state = TableState(_Store(), RETENTION)
    state.changelog = _NoChangelog()  # type: ignore[assignment]
    spend = control(modules, settings)
    alerts, producer = _AlertsTable(), _Producer()
    outlet = importlib.import_module(f"{modules.__name__}.spend_control").ClickHouseKafkaOutlet
    spend.outlet = outlet(alerts, lambda: producer, "alerts")  # the worker's, as it holds its alerts

    async def no_letters(letter: DeadLetter) -> None:
        pass

    processor = BatchProcessor(catalog, _NoSink(), state, DedupIndex(86_400), SIZES, RETENTION, no_letters,
                               bounds=TimeBounds.from_settings(settings), spend=spend)  # fmt: skip
    collections: list[float] = []
    started_at = [0.0]

    def timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started_at[0] = time.process_time()
        else:
            collections.append(time.process_time() - started_at[0])

    async def go() -> float:
        spent = 0.0
        for batch in batches:
            started = time.process_time()
            with between_batches():
                await processor.process(batch)
            owed = [None]  # the first tracked allocation after: where the collection owed runs
            spent += time.process_time() - started
            del owed
        return spent

    gc.callbacks.append(timed)
    try:
        spent = asyncio.run(go())
    finally:
        gc.callbacks.remove(timed)
    return {
        "batch_s": spent / len(batches),
        "collections": len(collections),
        "collections_s": sum(collections),
        "tracked": len(gc.get_objects()),
        "rss_mb": _rss_mb(),
        # As a digest: a run's records kept whole would weigh on the next run's collections.
        "outcome": hashlib.sha256(
            repr((alerts.payloads, table_content(spend.records.table.data), state.table.data)).encode()
        ).hexdigest(),
        "alerts": len(alerts.payloads),
        "records": len(spend.records.table.data),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--span-s", type=float, default=10.0, help="event time the events span (100k/s)")
    parser.add_argument("--per-message", type=int, default=100)
    parser.add_argument("--batch-messages", type=int, default=1000, help="messages per worker batch")
    parser.add_argument("--against", default="3a53910")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    settings = Settings()
    catalog = PriceCatalog(load_price_dir(settings.prices_dir))
    batches = messages(args.events, args.span_s, args.per_message, args.batch_messages)
    contenders = (("old", load_spend_modules(args.against)), ("new", importlib.import_module("streams")))
    gc.collect()
    tune_for_worker()
    samples: dict[str, list[float]] = {}
    outcomes: dict[str, Any] = {}
    for turn in range(args.rounds):  # interleaved, either first in turn: a noisy neighbour weighs on both
        for name, modules in contenders[:: -1 if turn % 2 else 1]:
            measured = run(modules, settings, catalog, batches)
            outcomes[name] = (measured.pop("outcome"), measured.pop("alerts"), measured.pop("records"))
            for key, value in measured.items():
                samples.setdefault(f"{name}_{key}", []).append(value)
            gc.collect()  # the run's state gone before the next one starts
    figures: dict[str, Any] = {key: round(statistics.median(values), 4) for key, values in samples.items()}
    figures["same"] = outcomes["old"] == outcomes["new"]
    figures["alerts"], figures["records"] = outcomes["new"][1:]
    for key, value in figures.items():
        print(f"{key:22} {value}")
    given = {"events": sum(len(orjson.loads(m.value or b"[]")) for b in batches for m in b),
             "batches": len(batches), "rounds": args.rounds, "against": args.against}  # fmt: skip
    print(orjson.dumps({**given, **figures, "samples": samples}).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
