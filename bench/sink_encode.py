"""CPU per event of the ClickHouse sink's Native encoding, this tree against a commit, in one process.

``python -m bench.sink_encode [--against 5b93e2d] [--events N] [--rounds R]``
runs :meth:`BatchProcessor.process` over the benchmark's fleet
(:mod:`bench.workload`, 10 s of traffic, messages of 100 events, 1,000
messages a batch: the worker's 100k-event batches) with a sink that keeps
what it is handed (the counted events, the batch's columns, the changed
windows), then encodes those batches' ledger rows and windows as the sink
does, with no server and no LZ4 (:meth:`ClickHouseSink.write_ledger` and
``write_windows`` with the table types taken as described and each body
kept), by the sink modules of ``--against`` (``git show``, loaded beside
this tree's, as :mod:`bench.ingest_stages` does) and by this tree's, in
turn (either first in turn), round after round, under the worker's collector settings.

Both versions share this tree's build of the native extension: a commit whose modules call
its parts runs this build's, so a change to ``native/`` alone shows against a commit before
the part, or with ``COSTLINE_NATIVE_BLOCK=python`` (both versions' reference, where the old
one reads that switch). Both versions' bodies are checked byte for byte first. Per table,
microseconds of process CPU per event (the median round of each). The last
line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import statistics
import time
import types
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from bench.commit_modules import modules_at
from bench.hotpath import Written, _NoChangelog, _NoSink, _Store
from bench.workload import events, pack
from costline.config import Settings
from schemas.prices import load_price_dir
from streams.dedup import DedupIndex
from streams.garbage_collection import tune_for_worker
from streams.pricing import PriceCatalog
from streams.processor import BatchProcessor, RawMessage
from streams.sinks import clickhouse_sink, ledger_stored
from streams.window_state import TableState

# In import order: each may import the ones before it.
# streams.dedup first: a sink imports its id types from the same commit.
MODULES = [
    "streams.dedup",
    "streams.sinks.native_block",
    "streams.sinks.table_columns",
    "streams.sinks.clickhouse_sink",
]
SIZES = (60, 3600)
RETENTION = {60: 600, 3600: 7200}
# The time every version writes as ingested_at and updated_at: the same bytes from both.
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
Batch = Written


class _Kept(_NoSink):
    """Keeps what each batch's write is handed."""

    def __init__(self) -> None:
        self.batches: list[Batch] = []

    def handed(self, written: Written, meanwhile: Callable[[], object] | None) -> None:
        self.batches.append(written)
        if meanwhile is not None:
            meanwhile()


def batches(count: int, span_s: float, per_message: int, per_batch: int) -> list[Batch]:
    """What the worker's sink is handed for ``count`` events of the fleet, ``per_batch`` messages a batch."""
    messages = [value for _, value in pack(events(count, span_s=span_s), per_message)]
    catalog = PriceCatalog(load_price_dir(Settings().prices_dir))
    state = TableState(_Store(), RETENTION)
    state.changelog = _NoChangelog()  # type: ignore[assignment]
    kept = _Kept()

    async def no_letters(letter: Any) -> None:
        pass

    processor = BatchProcessor(catalog, kept, state, DedupIndex(86_400), SIZES, RETENTION, no_letters)
    raw = [
        RawMessage("usage", 0, i, orjson.loads(m)[0]["customer_id"].encode(), m)
        for i, m in enumerate(messages)
    ]

    async def run() -> None:
        for first in range(0, len(raw), per_batch):
            await processor.process(raw[first : first + per_batch])

    asyncio.run(run())
    return kept.batches


def encoder(sink_module: types.ModuleType) -> Any:
    """A sink of ``sink_module`` that encodes as the worker's does and keeps the bodies it would send."""

    class Encoding(sink_module.ClickHouseSink):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__(None)
            self.compression = None  # the encoding alone
            self.sent: list[bytes] = []

        async def _writes_natively(self, table: str, suffix: str, types: Mapping[str, str], **_: Any) -> bool:
            return True

        async def _send_native(
            self, table: str, types: Mapping[str, str], packed: Awaitable[list[bytes]]
        ) -> None:
            self.sent += await packed

    return Encoding()


async def _encoded(sink: Any, batch: Batch, seconds: dict[str, float]) -> list[bytes]:
    counted, windows, columns = batch
    sink.sent = []
    started = time.process_time()
    await sink.write_ledger(counted, NOW, columns=columns)
    ledger = time.process_time()
    await sink.write_windows(windows, NOW)
    seconds["ledger"] += ledger - started
    seconds["windows"] += time.process_time() - ledger
    return list(sink.sent)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="5b93e2d")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--span-s", type=float, default=10.0)
    parser.add_argument("--per-message", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1000, help="messages per batch")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)

    kept = batches(args.events, args.span_s, args.per_message, args.batch)
    rows = sum(len(counted) for counted, _, _ in kept)
    old = modules_at(args.against, MODULES)
    sinks = {
        "old": encoder(old["streams.sinks.clickhouse_sink"]),
        "new": encoder(clickhouse_sink),
    }

    stored = False

    async def run() -> dict[str, dict[str, list[float]]]:
        nonlocal stored
        for batch in kept:  # byte for byte, every body
            old_bodies = await _encoded(sinks["old"], batch, _zero())
            new_bodies = await _encoded(sinks["new"], batch, _zero())
            if old_bodies != new_bodies:
                # This tree writes the ledger's stored columns where the old one named the "_sent"
                # ones: the same bodies with that derivation off; the stored rows are the server's to
                # compare (tests/e2e/test_ledger_stored_columns.py).
                with _as_sent():
                    assert old_bodies == await _encoded(sinks["new"], batch, _zero())
                stored = True
        tune_for_worker()
        rounds: dict[str, dict[str, list[float]]] = {name: {"ledger": [], "windows": []} for name in sinks}
        for turn in range(args.rounds):
            for name in sorted(sinks, reverse=turn % 2 == 1):  # either first in turn
                sink = sinks[name]
                seconds = _zero()
                for batch in kept:
                    await _encoded(sink, batch, seconds)
                gc.collect()
                for table, spent in seconds.items():
                    rounds[name][table].append(spent / rows * 1e6)
        return rounds

    rounds = asyncio.run(run())
    figures: dict[str, Any] = {"events": rows, "against": args.against, "rounds": args.rounds}
    for table in ("ledger", "windows"):
        figures[table] = {name: round(statistics.median(rounds[name][table]), 3) for name in sinks}
        old_us, new_us = figures[table]["old"], figures[table]["new"]
        print(f"{table:<8} {old_us:7.3f} -> {new_us:7.3f} µs/event (median of {args.rounds})")
    figures["total"] = {name: round(figures["ledger"][name] + figures["windows"][name], 3) for name in sinks}
    total = figures["total"]
    same = "the same bytes" + (" (the ledger's as sent: this tree writes stored columns)" if stored else "")
    print(f"{'total':<8} {total['old']:7.3f} -> {total['new']:7.3f} µs/event; {same}")
    figures["ledger_stored_columns"] = stored
    print(orjson.dumps(figures).decode())
    return 0


@contextlib.contextmanager
def _as_sent() -> Iterator[None]:
    """This tree's sink writing the ledger's "_sent" columns, as a batch with an id in no canonical form."""

    def refuse(columns: Any, now: datetime) -> Any:
        raise ledger_stored.NotDerived

    derive = ledger_stored.stored
    ledger_stored.stored = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        ledger_stored.stored = derive  # type: ignore[assignment]


def _zero() -> dict[str, float]:
    return {"ledger": 0.0, "windows": 0.0}


if __name__ == "__main__":
    raise SystemExit(main())
