"""The columnar floor: how fast one Python process does the worker's whole job, column by column.

    python -m bench.columnar_floor [--events 500000 200000] [--batch-max 1000] [--json]

For each event count: the bench's workload (bench.workload) is published to a
fresh pipeline's topic (bench.run's helpers), then, back to back on the same
events, (1) the Costline worker (bench.run.end_to_end: cold, timed from
/readyz) and (2) the floor, a plain aiokafka consumer in a child process
with a consumer group and a database of its own (`costline migrate`'s
tables), timed from its "ready" line. The floor's batch is never an object
an event: decode (msgspec into Structs read a field at a time, the
contract's checks a column at a time), dedup (the worker's id filter and
event_ids lookup), price (integer pico-dollar rates per SKU and version),
windows (both sizes and levels), the spend rules' inputs, then ledger and
window blocks in the worker's Native format, then the offsets committed.
Messages it declines go through the worker's own decode_and_price
(bench/columnar/batch.py). Each rate counts only events written inside its
interval; CPU is each process's from /proc; the floor's stages are its
own time.process_time() around each. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench import cpu
from bench.columnar import blocks
from bench.columnar.batch import BatchColumns, decode_and_price_columns
from bench.columnar.fold import WindowStore, cells_of, fold_windows, spend_inputs, window_step
from bench.counting import Counting
from bench.run import end_to_end, first_event_time, print_results, publish
from bench.services import service_pids
from bench.workload import events, expected_total, pack
from costline.clickhouse import open_async_client, open_client
from costline.config import Settings, get_settings
from costline.dev import local_servers
from costline.dev.harness import Pipeline
from costline.kafka import changelog_topic, ensure_topics
from costline.kafka_auth import client_security
from costline.migrations import migrate
from schemas.prices import load_price_dir
from streams.column_pricing import RateBook
from streams.decoding import TimeBounds
from streams.dedup import DedupIndex, IdColumns, id_keys, key_hashes
from streams.pricing import PriceCatalog
from streams.processor import RawMessage
from streams.sinks.clickhouse_sink import ClickHouseSink
from streams.sinks.table_columns import LEDGER_TYPES, WINDOW_TYPES

READY = "floor ready"
STAGES = ("decode_price", "dedup", "windows", "spend", "encode", "insert", "changelog", "commit")
# An event may say it occurred this far after it was first counted (streams.processor's).
_FUTURE_SLACK_S = 3600.0


class Floor:
    """One batch at a time: the worker's stages, each over columns."""

    def __init__(
        self, settings: Settings, sink: ClickHouseSink, catalog: PriceCatalog, producer: AIOKafkaProducer
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.producer = producer
        self.changelog_topic = changelog_topic(settings)
        self.book = RateBook(catalog)
        self.bounds = TimeBounds.from_settings(settings)
        self.dedup = DedupIndex(settings.dedup_horizon_s)
        self.sizes = settings.window_sizes
        self.step = window_step(self.sizes)
        self.windows = WindowStore()
        self.cpu: dict[str, float] = defaultdict(float)
        self.counted = 0
        self.slow_messages = 0
        self.dead_letters = 0
        self.spend_keys = 0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.process_time()
        try:
            yield
        finally:
            self.cpu[name] += time.process_time() - started

    async def process(self, messages: Sequence[RawMessage]) -> int:
        """Decode, dedup, price, fold, write; the events counted."""
        now = datetime.now(UTC)
        with self.stage("decode_price"):
            decoded = decode_and_price_columns(messages, self.book, self.bounds, now)
        with self.stage("dedup"):
            batch = await self.drop_duplicates(decoded.columns)
        with self.stage("windows"):
            cells = cells_of(batch, self.step)
            changed = fold_windows(cells, self.sizes, self.windows)
        with self.stage("spend"):
            spend = spend_inputs(batch, cells)
            self.spend_keys += spend.customer_hours + spend.agent_hours
        with self.stage("encode"):
            ledger = blocks.body(blocks.ledger_block(batch, now), blocks.slow_ledger_block(batch, now))
            windows = blocks.body(blocks.window_block(changed, self.windows, now))
        with self.stage("insert"):
            if len(batch):
                await self._send("ledger", list(LEDGER_TYPES), ledger)
            if changed.keys:
                await self._send("cost_windows", list(WINDOW_TYPES), windows)
            await self.sink.insert("dead_letters", [letter.row() for letter in decoded.dead])
        with self.stage("changelog"):
            await self.send_changelog(blocks.changelog_records(changed, self.windows))
        self.counted += len(batch)
        self.slow_messages += decoded.slow_messages
        self.dead_letters += len(decoded.dead)
        return len(batch)

    async def send_changelog(self, records: dict[int, list[tuple[bytes, bytes]]]) -> None:
        """The changed windows to the changelog, each on its partition, acknowledged before the commit
        (as streams.window_state.ChangelogWriter sends them, and Faust flushes before committing)."""
        sent = []
        for partition, pairs in records.items():
            batch = self.producer.create_batch()
            for key, value in pairs:
                if batch.append(key=key, value=value, timestamp=None) is None:
                    sent.append(
                        await self.producer.send_batch(batch, self.changelog_topic, partition=partition)
                    )
                    batch = self.producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)
            sent.append(await self.producer.send_batch(batch, self.changelog_topic, partition=partition))
        await asyncio.gather(*sent)

    async def _send(self, table: str, columns: list[str], body: bytes) -> None:
        await self.sink.client.raw_insert(table, columns, insert_block=body, fmt="Native", compression="lz4")

    async def drop_duplicates(self, batch: BatchColumns) -> BatchColumns:
        """The worker's rule (streams.processor._drop_duplicates): repeats in the batch, then ids the
        partition's filter may have seen or old enough to have left it, confirmed against event_ids."""
        keys = id_keys(batch.customers, batch.event_ids)
        if len(set(keys)) != len(keys):
            first = np.zeros(len(keys), np.bool_)
            seen: set[bytes] = set()
            for i in np.lexsort((batch.position, batch.partition)).tolist():  # first in source order
                first[i] = keys[i] not in seen
                seen.add(keys[i])
            batch = batch.select(first)
            keys = [k for k, f in zip(keys, first.tolist(), strict=True) if f]
        if not len(batch):
            return batch
        now = self.dedup.clock()
        hashes = key_hashes(keys)
        suspects = batch.occurred_us / 1e6 < now - self.dedup.horizon_s + _FUTURE_SLACK_S
        filters = {}
        for partition in np.unique(batch.partition).tolist():
            ids = self.dedup.get(partition) or self.dedup.install(partition, hashes[:0], np.zeros(0))
            filters[partition] = ids
            chosen = batch.partition == partition
            suspects[chosen] |= ids.might_contain(hashes[chosen])
        counted = np.ones(len(batch), np.bool_)
        checked = np.flatnonzero(suspects).tolist()
        if checked:
            asked = [keys[i] for i in checked]
            customers, event_ids = batch.customers, batch.event_ids
            found = await self.sink.counted_ids(
                IdColumns([customers[i] for i in checked], [event_ids[i] for i in checked])
            )
            where = dict(zip(asked, checked, strict=True))
            since = now - self.dedup.horizon_s
            for pair, earlier in found.items():
                i = where.get(f"{pair[0]}\x00{pair[1]}".encode())
                if i is None:
                    continue
                partition, pos = int(batch.partition[i]), int(batch.position[i])
                occurred = int(batch.occurred_us[i])
                if any(
                    (c.partition != partition or c.position < pos)
                    and (c.counted_at >= since or c.occurred_at_us == occurred)
                    for c in earlier
                ):
                    counted[i] = False
        for partition, ids in filters.items():
            ids.add(hashes[(batch.partition == partition) & counted], at=now)
        return batch.select(counted)


async def run_floor(
    settings: Settings, topic: str, group: str, target: int, batch_max: int, out: Path
) -> None:
    """The child: consume ``topic`` until ``target`` events are counted, write the stages to ``out``."""
    catalog = PriceCatalog(load_price_dir(settings.prices_dir))
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, **client_security(settings), acks="all", linger_ms=5
    )
    await producer.start()
    floor = Floor(settings, ClickHouseSink(await open_async_client(settings)), catalog, producer)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        **client_security(settings),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    while not consumer.assignment():
        await asyncio.sleep(0.05)
    print(READY, flush=True)
    started = time.process_time()
    batches = 0
    while floor.counted < target:
        fetched = await consumer.getmany(timeout_ms=200, max_records=batch_max)
        records = [r for rs in fetched.values() for r in rs]
        if not records:
            continue
        messages = [RawMessage(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp) for r in records]
        await floor.process(messages)
        with floor.stage("commit"):
            await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in fetched.items()})
        batches += 1
    total = time.process_time() - started
    figures = {
        "batches": batches,
        "counted": floor.counted,
        "process_cpu_s": total,
        "stages_cpu_s": dict(floor.cpu),
        "slow_messages": floor.slow_messages,
        "dead_letters": floor.dead_letters,
        "spend_keys": floor.spend_keys,
        "windows": len(floor.windows.slots),
    }
    out.write_text(json.dumps(figures))
    await consumer.stop()
    await producer.stop()
    await asyncio.Event().wait()  # CPU is read from /proc by the parent; it ends this process


def floor_end_to_end(p: Pipeline, n: int, expected: Decimal, batch_max: int) -> dict[str, Any]:
    """The floor on ``p``'s topic, with a database and consumer group of its own; its figures."""
    settings = p.settings.model_copy(
        update={
            "clickhouse_database": p.settings.clickhouse_database + "_floor",
            "app_id": p.settings.app_id + "-floor",
        }
    )
    migrate(settings, log=lambda _: None)
    asyncio.run(ensure_topics(settings))  # the floor's own windows changelog
    client = open_client(settings)
    out = settings.home / f"{settings.clickhouse_database}.json"
    out.unlink(missing_ok=True)
    argv = [
        sys.executable,
        "-m",
        "bench.columnar_floor",
        "--child",
        p.settings.usage_topic,
        settings.clickhouse_database,
        str(n),
        str(batch_max),
        str(out),
    ]
    env = {
        **os.environ,
        "COSTLINE_CLICKHOUSE_DATABASE": settings.clickhouse_database,
        "COSTLINE_APP_ID": settings.app_id,
        **{f"COSTLINE_{k.upper()}": str(v) for k, v in _bounds(settings).items()},
    }
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env)
    try:
        assert child.stdout is not None
        line = child.stdout.readline().decode()
        if READY not in line:
            raise RuntimeError(f"the floor exited before it was ready ({child.wait()})")
        pids = {"floor": [child.pid]} | service_pids(settings)
        before = cpu.snapshot(pids)

        def count() -> int:
            return int(client.query("SELECT count() FROM ledger").result_rows[0][0])

        def alive() -> None:
            if child.poll() is not None:
                raise RuntimeError(f"the floor exited ({child.returncode})")

        watch = Counting(n, time.perf_counter(), counted_at_start=count())
        watch.poll(count, alive)
        after = cpu.snapshot(pids)
        deadline = time.monotonic() + 120
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        stages = json.loads(out.read_text())
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)
    totals = {
        "ledger": client.query("SELECT sum(cost) FROM ledger FINAL").result_rows[0][0],
        **{
            f"windows_{size}_{level}": client.query(
                "SELECT sum(cost) FROM cost_windows FINAL WHERE window_size = {size:UInt32} AND "
                + ("agent_id = '*'" if level == "customer" else "agent_id != '*'"),
                parameters={"size": size},
            ).result_rows[0][0]
            for size in settings.window_sizes
            for level in ("customer", "agent")
        },
    }
    events_in_windows = client.query(
        "SELECT sum(events) FROM cost_windows FINAL WHERE agent_id = '*' AND window_size = 3600"
    ).result_rows[0][0]
    client.command(f"DROP DATABASE IF EXISTS `{settings.clickhouse_database}`")
    timed = n - watch.counted_at_start
    per_event = 1e6 / max(stages["counted"], 1)
    return {
        "floor_events_per_s": watch.rate,
        "floor_steady_events_per_s": watch.steady_rate,
        "floor_events_counted_before_ready": watch.counted_at_start,
        "floor_totals_exact": all(total == expected for total in totals.values()) and events_in_windows == n,
        **{f"floor_{k}": v for k, v in cpu.per_million(before, after, timed).items()},
        "floor_process_cpu_us_per_event": stages["process_cpu_s"] * per_event,
        **{f"floor_stage_{k}_us_per_event": v * per_event for k, v in stages["stages_cpu_s"].items()},
        "floor_stage_other_us_per_event": (stages["process_cpu_s"] - sum(stages["stages_cpu_s"].values()))
        * per_event,
        **{
            f"floor_{k}": stages[k]
            for k in ("batches", "slow_messages", "dead_letters", "spend_keys", "windows")
        },
    }


def _bounds(settings: Settings) -> dict[str, float]:
    """The pipeline's time bounds (the harness widens them for fixed dates), for the child's settings."""
    return {"event_max_age_s": settings.event_max_age_s, "event_max_future_s": settings.event_max_future_s}


def compare(settings: Settings, n: int, args: argparse.Namespace, say: Any) -> dict[str, Any]:
    """The worker and then the floor on the same ``n`` published events."""
    catalog = PriceCatalog(load_price_dir(settings.prices_dir))
    span = n / args.event_rate
    pairs = list(events(n, args.customers, args.agents, span_s=span, start=first_event_time("fixed", span)))
    expected = expected_total(pairs, catalog)
    messages = pack(pairs, args.events_per_message)
    p = Pipeline.create(settings, "floor", partitions=args.partitions)
    try:
        p.load_prices()
        asyncio.run(publish(settings.kafka_bootstrap, p.settings.usage_topic, messages))
        say(f"{n:,} events, {len(messages):,} messages: the worker")
        worker = end_to_end(p, n, expected, args.batch_max, 1)
        p.kill_worker(signal.SIGTERM)
        say(f"{n:,} events: the floor")
        floor = floor_end_to_end(p, n, expected, args.batch_max)
    finally:
        p.close()
    figures = {"messages": len(messages), **worker, **floor}
    figures["floor_to_worker_events_per_s"] = floor["floor_events_per_s"] / worker["e2e_events_per_s"]
    figures["worker_to_floor_cpu"] = worker["cpu_s_per_1m_worker"] / floor["floor_cpu_s_per_1m_floor"]
    return {f"{k}@{n}": v for k, v in figures.items()}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, nargs="+", default=[500_000, 200_000])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--batch-max", type=int, default=1000, help="messages a batch, both processes")
    parser.add_argument("--event-rate", type=float, default=100_000, help="as bench.run's")
    parser.add_argument("--events-per-message", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--child", nargs=5, metavar=("TOPIC", "GROUP", "TARGET", "BATCH", "OUT"), help=argparse.SUPPRESS
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = get_settings()
    if args.child:
        topic, group, target, batch_max, out = args.child
        asyncio.run(run_floor(settings, topic, group, int(target), int(batch_max), Path(out)))
        return 0
    started = local_servers.up(settings)
    figures: dict[str, Any] = {"machine_python_reference_s": cpu.python_reference_s()}

    def say(text: str) -> None:
        if not args.json:
            print(text, file=sys.stderr, flush=True)

    try:
        for n in args.events:
            figures |= compare(settings, n, args, say)
    finally:
        local_servers.down(settings, tuple(started))
    print_results(figures, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
