"""Costline benchmarks against the real local Kafka and ClickHouse.

    python -m bench.run [--events N] [--latency-rate R --latency-seconds S]
                        [--query-rows M] [--json]

Prints a table of figures, and as its last line one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from string import Template
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from clickhouse_connect.driver.client import Client

from bench import cpu
from bench.alert_latency import alert_latency
from bench.counting import Counting, until_counted
from bench.peers import clickhouse_native, quix
from bench.restart import restart_after_history
from bench.rules_cost import budgets as rule_budgets
from bench.services import service_pids
from bench.warm import warm_end_to_end
from bench.workload import DAY, events, expected_total, pack
from billing import store as billing_store
from billing.invoices import BillingContext, draft
from billing.meters import USAGE_COST, meter_parameters, meter_usage, replayed_customers
from billing.periods import Period
from costline.budgets import publish_and_record
from costline.clickhouse import open_client, read_query
from costline.config import Settings, get_settings
from costline.dev import local_servers
from costline.dev.harness import Pipeline
from costline.kafka import topic_partitions
from costline.kafka_auth import client_security
from costline.migrations import migrate
from costline.publisher import UsagePublisher
from schemas.events import ToolCall, parse_event
from schemas.plans import BillingFile
from schemas.prices import load_price_dir
from streams.pricing import PriceCatalog
from streams.sinks.clickhouse_sink import LEDGER_COLUMNS, ledger_row

BENCH_DIR = Path(__file__).resolve().parent
BATCH_COUNTED = re.compile(r"batch: \d+ messages, (\d+) counted")
BENCH_SQL = BENCH_DIR / "sql"
ROOT = BENCH_DIR.parent


async def publish(bootstrap: str, topic: str, pairs: list[tuple[bytes, bytes]]) -> float:
    """Publish with acks=all; returns messages per second."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        **client_security(get_settings()),
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=512 * 1024,
    )
    await producer.start()
    try:
        started = time.perf_counter()
        for key, value in pairs:
            await producer.send(topic, value=value, key=key)
        await producer.flush()
        return len(pairs) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def consume_all(bootstrap: str, topic: str, count: int) -> float:
    """Read ``count`` messages from the start; returns messages per second."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        **client_security(get_settings()),
        group_id=None,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tps = [
            TopicPartition(topic, p)
            for p in await topic_partitions(
                get_settings().model_copy(update={"kafka_bootstrap": bootstrap}), topic
            )
        ]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen = 0
        started = time.perf_counter()
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=50_000)
            seen += sum(len(records) for records in batches.values())
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def clickhouse_insert_rate(
    settings: Settings, pairs: list[tuple[bytes, bytes]], catalog: PriceCatalog
) -> float:
    """Ledger-shaped rows through clickhouse-connect, 50k per insert."""
    client = open_client(settings)
    client.command("CREATE TABLE IF NOT EXISTS bench_ledger AS ledger")
    now = datetime.now(UTC)
    rows = [ledger_row(0, i, catalog.price(parse_event(v)), now) for i, (_, v) in enumerate(pairs)]
    started = time.perf_counter()
    for start in range(0, len(rows), 50_000):
        client.insert("bench_ledger", rows[start : start + 50_000], column_names=LEDGER_COLUMNS)
    rate = len(rows) / (time.perf_counter() - started)
    client.command("DROP TABLE bench_ledger")
    return rate


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_until_ready(p: Pipeline, index: int, timeout: float = 600) -> None:
    """Until the worker's /readyz answers 200: joined, partitions assigned, windows restored."""
    url = p.web_url(index, timeout=timeout) + "/readyz"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass  # 503 (not ready yet) or not listening yet
        if time.monotonic() > deadline or p.workers[index].poll() is not None:
            raise RuntimeError(f"worker {index} not ready after {timeout:.0f}s:\n{p.worker_log(index)}")
        time.sleep(0.05)


def end_to_end(p: Pipeline, n: int, expected: Decimal, batch_max: int, workers: int) -> dict[str, Any]:
    """Start workers cold on a pre-loaded topic; time from every worker ready to the last event counted.

    The rate counts only events counted inside the timed interval: those in
    the ledger when the last worker became ready are subtracted. The old
    figure (first ledger row to last, which left the first batch out of the
    time but not out of the count) is kept as ``e2e_events_per_s_first_row``
    to compare with. CPU seconds of the workers, Kafka and ClickHouse over
    the same interval are reported per 1M events.
    """
    started = time.perf_counter()
    for _ in range(workers):
        p.start_worker(batch_max=batch_max)
    for index in range(workers):
        wait_until_ready(p, index)
    pids = {"worker": [w.pid for w in p.workers]} | service_pids(p.settings)
    cpu_before = cpu.snapshot(pids)
    watch = Counting(n, time.perf_counter(), counted_at_start=int(p.scalar("SELECT count() FROM ledger")))

    def alive() -> None:
        if any(w.poll() is not None for w in p.workers):
            raise RuntimeError(f"worker died:\n{p.worker_log()}")

    until_counted(p, watch, alive)
    cpu_after = cpu.snapshot(pids)
    rss = max(peak_rss_mb(w.pid) for w in p.workers)
    ledger_total = p.scalar("SELECT sum(cost) FROM ledger FINAL")
    window_total = p.scalar(
        "SELECT sum(cost) FROM cost_windows FINAL WHERE agent_id = '*' AND window_size = 3600"
    )
    timed = n - watch.counted_at_start
    assert watch.first_at is not None
    return {
        "e2e_workers": workers,
        "e2e_events_per_s": watch.rate,
        "e2e_steady_events_per_s": watch.steady_rate,
        "e2e_events_counted_before_ready": watch.counted_at_start,
        # The old figure: every event over first ledger row to last (first batch counted, not timed).
        "e2e_events_per_s_first_row": n / max(watch.done_at - watch.first_at, 1e-9),
        "e2e_ready_s": watch.started - started,
        "e2e_with_startup_s": watch.done_at - started,
        "totals_exact": ledger_total == window_total == expected,
        "worker_peak_rss_mb": rss,
        **cpu.per_million(cpu_before, cpu_after, timed),
    }


async def steady_publish(p: Pipeline, rate: int, seconds: int) -> dict[str, float]:
    """Publish ``rate`` events a second through the SDK; returns event id -> publish time."""
    published: dict[str, float] = {}
    async with UsagePublisher.from_settings(p.settings) as publisher:
        started = time.perf_counter()
        per_tick = max(1, rate // 100)
        while time.perf_counter() - started < seconds:
            for _ in range(per_tick):
                n = len(published)
                now = datetime.now(UTC)
                await publisher.publish(
                    ToolCall(
                        kind="tool",
                        tool="twilio-sms",
                        event_id=f"lat-{n}",
                        occurred_at=now,
                        customer_id=f"lat-cust-{n % 100}",
                        agent_id="latency-probe",
                    )
                )
                published[f"lat-{n}"] = now.timestamp()
            target = started + len(published) / rate
            await asyncio.sleep(max(0.0, target - time.perf_counter()))
    return published


def watch_probes(settings: Settings, seen: dict[str, float], stop: threading.Event) -> None:
    """Until ``stop``: every 50 ms, note when each latency probe is first seen in the ledger."""
    client = open_client(settings)
    since = datetime(2000, 1, 1, tzinfo=UTC)
    while not stop.is_set():
        now = time.time()
        rows = client.query(
            "SELECT event_id, ingested_at FROM ledger WHERE agent_id = 'latency-probe' "
            "AND ingested_at >= {since:DateTime64(3, 'UTC')} - INTERVAL 2 SECOND",
            parameters={"since": since},
        ).result_rows
        for event_id, ingested_at in rows:
            seen.setdefault(event_id, now)
            since = max(since, ingested_at.replace(tzinfo=UTC))
        time.sleep(0.05)


def latency(
    settings: Settings, rate: int, seconds: int, partitions: int, settled: bool = False
) -> dict[str, Any]:
    """Publish to a worker in steady state; an event is visible when a poll first sees it.

    A fresh pipeline (a database and topics of its own), so a backfill's
    expiry work does not land in the figures; ``settled``: and started only
    once ClickHouse has finished its merges (:func:`settle`). Polls run every
    50 ms from another thread, which bounds the error of each measurement.
    """
    waited = settle(settings) if settled else 0.0
    p = Pipeline.create(settings, "latency", partitions=partitions)
    p.load_prices()
    p.start_worker(batch_max=5000)
    warmup = {
        "kind": "tool",
        "tool": "twilio-sms",
        "event_id": "warmup",
        "customer_id": "lat-cust-0",
        "agent_id": "warmup",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    asyncio.run(
        publish(settings.kafka_bootstrap, p.settings.usage_topic, [(b"lat-cust-0", orjson.dumps(warmup))])
    )
    p.wait_for("SELECT count() FROM ledger WHERE agent_id = 'warmup'", 1, timeout=120)

    seen: dict[str, float] = {}
    stop = threading.Event()
    poller = threading.Thread(target=watch_probes, args=(p.settings, seen, stop), daemon=True)
    poller.start()
    published = asyncio.run(steady_publish(p, rate, seconds))
    deadline = time.monotonic() + 300
    while len(seen) < len(published) and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    poller.join()
    p.close()
    delays = sorted(seen[event_id] - at for event_id, at in published.items() if event_id in seen)

    def q(fraction: float) -> float:
        return delays[min(len(delays) - 1, int(len(delays) * fraction))]

    return {
        "latency_rate": rate,
        "latency_settle_s": waited,
        "latency_events_seen": f"{len(delays)}/{len(published)}",
        "p50_latency_s": q(0.5),
        "p95_latency_s": q(0.95),
        "p99_latency_s": q(0.99),
    }


def settle(settings: Settings, timeout: float = 300) -> float:
    """Wait until ClickHouse and Kafka are quiet for 2 s (up to ``timeout``); seconds waited.

    Quiet: no merge or mutation running, and the two servers together under
    a fifth of a core. What isolates the latency phase from the phases
    before it: their databases are dropped, but the servers may still be
    merging parts that live on (their own logs, earlier runs) or finishing
    their work.
    """
    client = open_client(settings, database="")
    pids = [pid for group in service_pids(settings).values() for pid in group]
    started = quiet_since = time.monotonic()
    used = sum(map(cpu.cpu_seconds, pids))
    while time.monotonic() - started < timeout:
        time.sleep(0.5)
        busy = client.query(_BUSY).result_rows[0][0]
        now, was = time.monotonic(), used
        used = sum(map(cpu.cpu_seconds, pids))
        if busy or used - was > 0.1:  # 0.2 of a core over the 0.5 s
            quiet_since = now
        elif now - quiet_since >= 2:
            break
    client.close()
    return time.monotonic() - started


_BUSY = (
    "SELECT (SELECT count() FROM system.merges) + (SELECT count() FROM system.mutations WHERE NOT is_done)"
)


def generated_ledger(settings: Settings, rows: int, ids: str = "v4") -> Client:
    """A database holding a generated ledger of ``rows`` rows with UUID ids ``ids`` (v4, v7), kept."""
    suffix = "" if ids == "v4" else f"_{ids}"
    # Filling, merging and copying 100M rows takes minutes a statement.
    qs = settings.model_copy(
        update={"clickhouse_database": f"costline_bench_query_{rows}{suffix}", "clickhouse_timeout_s": 3600}
    )
    migrate(qs, log=lambda _: None)
    client = open_client(qs)
    have = client.query("SELECT count() FROM ledger").result_rows[0][0]
    if have != rows:
        fill_ledger(client, rows, ids)
    return client


# Tables fed by views on ledger that the generated ledger leaves empty: event_ids holds ids for
# dedup (not benched on it), and the bench's billing tables are loaded by the phases themselves.
VIEW_TABLES = ("meter_days", "ledger_inserts", "event_ids")


def fill_ledger(client: Client, rows: int, ids: str, views: bool = True) -> None:
    """Generate into a table with no views, move its partitions into ledger, then fill the views' tables.

    Inserting into ledger itself ran three views on every block: event_ids
    (daily partitions: a block of 90 days wrote 90 parts), meter_days (exact
    unique-count states) and ledger_inserts, in one thread, at 1.5-2.5M rows
    a minute; and ReplacingMergeTree collapsed duplicates in every block.
    Moved partitions fire no view; meter_days and ledger_inserts are then
    filled by one INSERT SELECT a month, the rows the views would have added
    up to (every position written once, so one range per customer, day and
    partition), checked against the ledger by count and sum. ``views``
    False: left empty (a month's unique-count states at 100M rows need GBs).
    """
    for table in ("ledger", *VIEW_TABLES):
        client.command(f"TRUNCATE TABLE {table}")
    client.command("DROP TABLE IF EXISTS ledger_generated")
    client.command("CREATE TABLE ledger_generated AS ledger")
    generate = generate_statement(ingested_column(client), written_as(client))
    fill = [q for q in (BENCH_SQL / "fill_views.sql").read_text().split(";") if q.strip()]
    chunk = 10_000_000
    for first in range(0, rows, chunk):
        client.command(
            generate,
            parameters={
                "rows": rows,
                "first": first,
                "count": min(chunk, rows - first),
                "ids": ids,
                "table": "ledger_generated",
            },
            # Ids are unique: collapsing duplicates within each block (ReplacingMergeTree's
            # optimize_on_insert) finds none, and took 3/4 of the insert's time.
            # The windows sort a chunk's 10M rows three times, ~5 GiB at once, past the server's memory
            # limit when the shared box's other work holds RAM (it failed at 3.1-5.3 GiB): past 300 MB a
            # sort spills to disk (peak 2.4 GiB), which the ratio setting, unless 0, overrides.
            settings={
                "max_partitions_per_insert_block": 0,
                "optimize_on_insert": 0,
                "max_bytes_before_external_sort": 300_000_000,
                "max_bytes_ratio_before_external_sort": 0,
            },
        )
    months = [
        m
        for (m,) in client.query(
            "SELECT DISTINCT partition_id FROM system.parts WHERE database = "
            "currentDatabase() AND table = 'ledger_generated' AND active"
        ).result_rows
    ]
    for month in sorted(months):
        client.command(f"ALTER TABLE ledger ATTACH PARTITION ID '{month}' FROM ledger_generated")
        for statement in fill if views else []:
            # A month's unique-count states may not fit in memory at 100M rows: spill them.
            spill = {"max_bytes_before_external_group_by": 3_000_000_000}
            client.command(statement, parameters={"month": int(month)}, settings=spill)
    client.command("DROP TABLE ledger_generated")
    if views:
        check_views(client)


# The price's columns, the quantity and the cost, which a writer names by EPHEMERAL "_sent" columns
# from migration 025 on (ALIAS columns since, of a price key, the quantity past the tokens and picos).
PRICE_QUANTITY_COST = ("kind", "provider", "sku", "unit", "price_version", "quantity", "cost")


def generate_statement(ingested_column: str, written: Mapping[str, str] | None = None) -> str:
    """bench/sql/generate_ledger.sql, giving the ingestion time in ``ingested_column`` and each of
    :data:`PRICE_QUANTITY_COST` in the column ``written`` names for it (by default its own)."""
    text = (BENCH_SQL / "generate_ledger.sql").read_text()
    names = {name: (written or {}).get(name, name) for name in PRICE_QUANTITY_COST}
    return Template(text).substitute(ingested_column=ingested_column, **names)


def written_as(client: Client) -> dict[str, str]:
    """The column a writer names each of :data:`PRICE_QUANTITY_COST` by in this ledger (either layout)."""
    ephemeral = {
        name
        for (name,) in client.query(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'ledger' "
            "AND default_kind = 'EPHEMERAL'"
        ).result_rows
    }
    return {name: f"{name}_sent" if f"{name}_sent" in ephemeral else name for name in PRICE_QUANTITY_COST}


def ingested_column(client: Client) -> str:
    """The ledger column a writer names the ingestion time by: ingested_at until migration 023 made it
    an ALIAS of the stored lag, ingested_at_sent since (bench.ledger_bytes fills a ledger of either)."""
    described = client.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'ledger' "
        "AND name = 'ingested_at_sent'"
    ).result_rows
    return "ingested_at_sent" if described else "ingested_at"


def check_views(client: Client) -> None:
    """meter_days and ledger_inserts add up to the ledger: rows, events, cost, tokens, positions."""
    ledger = client.query(
        "SELECT count(), sum(cost), sum(input_tokens), uniqExact(customer_id, toDate(occurred_at), task_id) "
        "FROM ledger"
    ).result_rows[0]
    daily = client.query(
        "SELECT sum(events), sum(cost), sum(input_tokens), sum(tasks) FROM (SELECT customer_id, day, "
        "sum(events) AS events, sum(cost) AS cost, sum(input_tokens) AS input_tokens, "
        "uniqExactIfMerge(task_ids) AS tasks FROM meter_days GROUP BY customer_id, day)"
    ).result_rows[0]
    inserted = client.query("SELECT sum(rows) FROM ledger_inserts").result_rows[0]
    if tuple(ledger) != tuple(daily) or inserted[0] != ledger[0]:
        raise AssertionError(f"views disagree with the ledger: {ledger} {daily} {inserted}")


def query_bench(settings: Settings, rows: int, runs: int, ids: str) -> dict[str, Any]:
    """An invoice query over a generated ledger of ``rows`` rows."""
    client = generated_ledger(settings, rows, ids)
    sql = (BENCH_SQL / "invoice_usage.sql").read_text()
    october = {"from": datetime(2026, 10, 1, tzinfo=UTC), "to": datetime(2026, 11, 1, tzinfo=UTC)}
    # The busiest customer's month, to show the query reads real rows.
    busiest = client.query(sql, parameters={"customer": "cust-0000", **october}).result_rows
    timings = []
    for i in range(runs):
        params = {"customer": f"cust-{i % 20:04d}", **october}
        started = time.perf_counter()
        client.query(sql, parameters=params)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    parts = client.query(
        "SELECT sum(rows), sum(data_compressed_bytes), sum(bytes_on_disk) FROM system.parts "
        "WHERE database = currentDatabase() AND table = 'ledger' AND active"
    ).result_rows[0]
    return {
        "query_rows": rows,
        "query_busiest_customer_month_events": sum(int(r[2]) for r in busiest),
        "query_p50_ms": statistics.median(timings),
        "query_p99_ms": timings[min(len(timings) - 1, int(len(timings) * 0.99))],
        "ledger_bytes_per_row": parts[2] / max(parts[0], 1),
    }


def size_bench(settings: Settings, rows: int, ids: str) -> dict[str, Any]:
    """Ledger bytes per row on disk, merged, with the migrations' codecs and with none (LZ4), same rows."""
    client = generated_ledger(settings, rows, ids)
    client.command("OPTIMIZE TABLE ledger FINAL")
    client.command("DROP TABLE IF EXISTS ledger_lz4")
    client.command("CREATE TABLE ledger_lz4 AS ledger")
    coded = client.query(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
        "AND table = 'ledger_lz4' AND compression_codec != ''"
    ).result_rows
    for name, type_ in coded:
        client.command(f"ALTER TABLE ledger_lz4 MODIFY COLUMN `{name}` {type_} CODEC(LZ4)")
    client.command(
        "INSERT INTO ledger_lz4 SELECT * FROM ledger",
        settings={"max_insert_threads": 1, "optimize_on_insert": 0},  # merged: nothing to collapse
    )
    client.command("OPTIMIZE TABLE ledger_lz4 FINAL")
    figures: dict[str, Any] = {"size_rows": rows, "size_event_ids": ids}
    for table, label in (("ledger", "codecs"), ("ledger_lz4", "lz4")):
        total = client.query(
            "SELECT sum(bytes_on_disk) / sum(rows) FROM system.parts "
            "WHERE database = currentDatabase() AND table = {t:String} AND active",
            parameters={"t": table},
        ).result_rows[0][0]
        columns = client.query(
            "SELECT name, data_compressed_bytes / {n:UInt64} FROM system.columns "
            "WHERE database = currentDatabase() AND table = {t:String} ORDER BY data_compressed_bytes DESC "
            "LIMIT 6",
            parameters={"t": table, "n": rows},
        ).result_rows
        figures[f"ledger_bytes_per_row_{label}"] = total
        figures[f"ledger_top_columns_{label}"] = {name: round(b, 2) for name, b in columns}
    client.command("DROP TABLE ledger_lz4")
    return figures


def invoice_bench(settings: Settings, rows: int, runs: int, ids: str) -> dict[str, Any]:
    """Whole draft invoices (every meter query, rating, credits, adjustments) on the generated ledger.

    The 20 busiest customers are on a hybrid plan (fee, included actions,
    graduated overage, cost pass-through with a margin) for October.
    """
    client = generated_ledger(settings, rows, ids)
    billing_store.load(client, billing_store.read_billing_file(ROOT / "plans" / "meters.json"))
    billing_store.load(client, BillingFile.model_validate_json((BENCH_DIR / "billing.json").read_bytes()))
    ctx = BillingContext.load(client)
    october = Period.parse("2026-10")
    timings = []
    totals = []
    for i in range(runs):
        started = time.perf_counter()
        invoice = draft(ctx, f"cust-{i % 20:04d}", october)
        timings.append((time.perf_counter() - started) * 1000)
        totals.append(invoice.total)
    timings.sort()
    return {
        "invoice_p50_ms": statistics.median(timings),
        "invoice_p99_ms": timings[min(len(timings) - 1, int(len(timings) * 0.99))],
        "invoice_busiest_total": str(totals[0]),
        **meter_reads(client, ctx, october, runs),
    }


def meter_reads(client: Client, ctx: BillingContext, period: Period, runs: int) -> dict[str, Any]:
    """An invoice's meter reads both ways, interleaved on the same customers: ledger FINAL and meter_days."""
    plan_meters = [ctx.meters[name] for name in ("agent_actions", "active_users")] + [USAGE_COST]
    timings: dict[str, list[float]] = {"ledger": [], "daily": []}
    for i in range(runs):
        customer = f"cust-{i % 20:04d}"
        started = time.perf_counter()
        from_ledger = [
            client.query(
                read_query("meter_usage"),
                parameters=meter_parameters(m)
                | {"from": period.start, "to": period.end, "customers": [customer]},
            ).result_rows
            for m in plan_meters
        ]
        timings["ledger"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        replayed = replayed_customers(client, period.start, period.end, [customer])
        daily = [meter_usage(client, m, period.start, period.end, [customer], replayed) for m in plan_meters]
        timings["daily"].append((time.perf_counter() - started) * 1000)
        totals = [next(Decimal(v) for _, day, v in rows if day is None) for rows in from_ledger]
        if totals != [usage.total(customer) for usage in daily]:
            raise AssertionError(f"meter_days disagrees with the ledger for {customer}: {totals}")
    figures: dict[str, Any] = {}
    for way, values in timings.items():
        values.sort()
        figures[f"invoice_meter_reads_{way}_p50_ms"] = statistics.median(values)
        figures[f"invoice_meter_reads_{way}_p99_ms"] = values[min(len(values) - 1, int(len(values) * 0.99))]
    return figures


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    # The workload (#12): 500k events, 5 batches of 1,000 messages. At 200k (2 batches) the
    # first batch's warm-up was most of the figure, and a peer's start most of its own.
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--batch-max", type=int, default=1000, help="messages per worker batch")
    parser.add_argument(
        "--event-rate",
        type=float,
        default=100_000,
        help="events per second of event time: 100000 is live traffic at the target rate; "
        "a low rate (e.g. 10) spreads the events over a day, as a backfill does",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="more than 1: one worker and then this many, each warm (bench/warm.py: settled on an "
        "empty topic, then the same events published), reported with the ratio of the two "
        "(issue #12's goal: 2 on this box)",
    )
    parser.add_argument(
        "--start",
        default="fixed",
        help="occurred_at of the first event: 'fixed' (2026-11-20, the figures below), 'now' "
        "(the events end now, as live traffic), or an ISO time",
    )
    parser.add_argument("--dedup-ids", type=int, default=1_000_000, help="ids in the dedup phase")
    parser.add_argument(
        "--events-per-message",
        type=int,
        default=100,
        help="events per Kafka message, grouped per customer as the SDK does (1: one event each)",
    )
    parser.add_argument("--latency-rate", type=int, default=5000)
    parser.add_argument("--latency-seconds", type=int, default=20)
    parser.add_argument("--query-rows", type=int, default=10_000_000)
    parser.add_argument(
        "--ledger-ids",
        choices=["v4", "v7"],
        default="v4",
        help="event ids of the generated ledger (query, size, invoice): random UUIDs, or the SDK's "
        "time-ordered UUIDv7 (a database of its own, kept between runs as the v4 one is)",
    )
    parser.add_argument("--query-runs", type=int, default=200)
    parser.add_argument("--invoice-runs", type=int, default=40)
    parser.add_argument(
        "--phases",
        default="raw,e2e,peers,latency,query,invoice,restart",
        help="which of raw,e2e,peers,latency,query,size,invoice,restart,dedup,alerts,rules "
        "(the last three and size: not by default)",
    )
    parser.add_argument("--restart-events", type=int, default=1_000_000, help="history before the kill")
    parser.add_argument(
        "--restart-event-rate",
        type=float,
        default=1000,
        help="events per second of event time in the restart history: 1000 spreads 1M events over "
        "17 minutes, so minute windows close and expire while it is built",
    )
    parser.add_argument("--alert-every", type=int, default=20, help="alerts: every n-th event alerts")
    parser.add_argument("--rules-events", type=int, default=100_000, help="rules: events per run")
    parser.add_argument("--rules-budgets", type=int, default=10_000, help="rules: budgets loaded")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    return parser.parse_args(argv)


@dataclass
class Results:
    """The figures of a run, kept and shown as they come, so a failed later phase loses nothing."""

    quiet: bool
    figures: dict[str, Any] = field(default_factory=dict)

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def record(self, figures: dict[str, Any]) -> None:
        self.figures.update(figures)
        for key, value in figures.items():
            self.say(f"    {key} = {value:,.3f}" if isinstance(value, float) else f"    {key} = {value}")


def first_event_time(start: str, span_s: float) -> datetime:
    """``--start``: 'fixed' (the workload's day), 'now' (the events end now) or an ISO time."""
    if start == "fixed":
        return DAY
    if start == "now":
        return datetime.now(UTC) - timedelta(seconds=span_s)
    return datetime.fromisoformat(start)


def raw_and_e2e(settings: Settings, args: argparse.Namespace, phases: set[str], out: Results) -> None:
    """Raw Kafka and ClickHouse ceilings on a generated workload, then the worker end to end on it."""
    catalog = PriceCatalog(load_price_dir(settings.prices_dir))
    out.say(f"generating {args.events:,} events...")
    span = args.events / args.event_rate
    start = first_event_time(args.start, span)
    pairs = list(events(args.events, args.customers, args.agents, span_s=span, start=start))
    expected = expected_total(pairs, catalog)
    messages = pack(pairs, args.events_per_message)
    per_message = len(pairs) / len(messages)
    out.record({"messages": len(messages)})

    p = Pipeline.create(settings, "bench", partitions=args.partitions)
    try:
        p.load_prices()
        topic = p.settings.usage_topic
        out.say("1. raw ceilings")
        # In events/s: messages/s times events per message, comparable with e2e.
        produced = asyncio.run(publish(settings.kafka_bootstrap, topic, messages))
        consumed = asyncio.run(consume_all(settings.kafka_bootstrap, topic, len(messages)))
        out.record(
            {
                "raw_produce_per_s": per_message * produced,
                "raw_consume_per_s": per_message * consumed,
                "raw_consume_messages_per_s": consumed,
                "clickhouse_insert_rows_per_s": clickhouse_insert_rate(p.settings, pairs[:200_000], catalog),
            }
        )
        if "e2e" in phases:
            out.say("2. end to end, one worker, cold")
            out.record(end_to_end(p, len(pairs), expected, args.batch_max, 1))
            out.record(
                {"e2e_ratio_to_raw": out.figures["e2e_events_per_s"] / out.figures["raw_consume_per_s"]}
            )
        if "peers" in phases:
            versions = load_price_dir(settings.prices_dir)
            out.say("2c. peers on the same topic, each with a consumer group and a database of its own")
            out.record(
                clickhouse_native.run(p.settings, p.settings.usage_topic, len(pairs), expected, versions)
            )
            out.record(quix.run(p.settings, p.settings.usage_topic, len(pairs), expected, versions))
            if "e2e_events_per_s" in out.figures:
                out.record(peer_ratios(out.figures))
    finally:
        p.close()  # its workers too, whatever failed
    if "e2e" in phases and args.workers > 1:
        out.record(warm_workers(settings, args, messages, len(pairs), expected, out.say))


def warm_workers(
    settings: Settings,
    args: argparse.Namespace,
    messages: list[tuple[bytes, bytes]],
    n: int,
    expected: Decimal,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """One worker, then ``--workers``, each warm (:mod:`bench.warm`) on a pipeline of its own, same events.

    Cold, N workers rebalance while they count, so their rate is not
    comparable with one worker's; warm, both run with a settled group from
    the first event produced to the last counted.
    """
    figures: dict[str, Any] = {}
    for workers in (1, args.workers):
        say(f"2b. end to end, {workers} worker(s), warm: settled on an empty topic, then the events")
        p = Pipeline.create(settings, f"bench-warm-{workers}w", partitions=args.partitions)
        try:
            p.load_prices()
            run = warm_end_to_end(p, messages, n, expected, args.batch_max, workers)
        finally:
            p.close()
        figures |= {f"e2e_warm_{workers}w_{key}": value for key, value in run.items()}
    figures[f"e2e_ratio_{args.workers}_workers_to_1"] = (
        figures[f"e2e_warm_{args.workers}w_events_per_s"] / figures["e2e_warm_1w_events_per_s"]
    )
    return figures


def counted_by_worker(p: Pipeline, n: int, timeout: float = 1800) -> float:
    """Seconds from the call until the worker's log says ``n`` events went through whole batches.

    A batch is logged once its rules have run and its alerts are stored, after its windows are
    written: the windows' count alone leaves the last batch's rules out of the time.
    """
    began = time.monotonic()
    while True:
        text = Path(p.log_path).read_text(errors="replace")
        if sum(int(m) for m in BATCH_COUNTED.findall(text)) >= n:
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"the worker logged fewer than {n} events counted:\n{p.workers_report()}")
        time.sleep(0.1)


def rules_throughput(settings: Settings, args: argparse.Namespace, out: Results) -> None:
    """The throughput cost of the rules: the same events end to end, back to back, on three pipelines:
    anomaly detectors off and no budget; the defaults (detectors on) and no budget; the defaults
    with ``--rules-budgets`` budgets loaded over the workload's customers."""
    catalog = PriceCatalog(load_price_dir(settings.prices_dir))
    n = args.rules_events
    span = n / args.event_rate
    pairs = list(
        events(n, args.customers, args.agents, span_s=span, start=first_event_time(args.start, span))
    )
    expected = expected_total(pairs, catalog)
    messages = pack(pairs, args.events_per_message)
    loaded = rule_budgets(args.rules_budgets, [f"cust-{i:04d}" for i in range(args.customers)])
    detectors_off = {"COSTLINE_ANOMALY_REQUEST_K": "", "COSTLINE_ANOMALY_HOURLY_RATIO": "0",
                     "COSTLINE_ANOMALY_TOKEN_DRIFT_RATIO": "0"}  # fmt: skip
    runs: list[tuple[str, list[Any], dict[str, str]]] = [
        ("bare", [], detectors_off),
        ("anomalies", [], {}),
        ("budgets", loaded, {}),
    ]
    for label, book, env in runs:
        out.say(f"7. rules: {n:,} events end to end, {label} ({len(book):,} budgets)")
        p = Pipeline.create(settings, f"bench-rules-{label}", partitions=args.partitions)
        p.worker_env.update(env)
        try:
            p.load_prices()
            if book:
                publish_and_record(p.settings, p.db, book)
            asyncio.run(publish(settings.kafka_bootstrap, p.settings.usage_topic, messages))
            figures = end_to_end(p, n, expected, args.batch_max, 1)
            # The rate below adds the time until the last batch's rules were done.
            after_s = counted_by_worker(p, n)
            alerts = p.scalar("SELECT count() FROM alerts FINAL")
            timed = n - figures["e2e_events_counted_before_ready"]
        finally:
            p.close()
        out.record(
            {
                f"rules_e2e_events_per_s_{label}": timed / (timed / figures["e2e_events_per_s"] + after_s),
                f"rules_e2e_events_per_s_windows_{label}": figures["e2e_events_per_s"],
                f"rules_e2e_cpu_s_per_1m_worker_{label}": figures["cpu_s_per_1m_worker"],
                f"rules_e2e_alerts_{label}": alerts,
                f"rules_e2e_totals_exact_{label}": figures["totals_exact"],
            }
        )
    rate = {label: out.figures[f"rules_e2e_events_per_s_{label}"] for label, _, _ in runs}
    out.record(
        {
            "rules_budgets_loaded": len(loaded),
            "rules_e2e_ratio_budgets_to_anomalies": rate["budgets"] / rate["anomalies"],
            "rules_e2e_ratio_anomalies_to_bare": rate["anomalies"] / rate["bare"],
        }
    )


def peer_ratios(figures: dict[str, Any]) -> dict[str, Any]:
    """Costline's rate over each peer's, cold and steady (none when one poll saw every row)."""
    ratios: dict[str, Any] = {}
    for peer in ("quixstreams", "clickhouse_native"):
        if f"peer_{peer}_events_per_s" not in figures:
            continue
        ratios[f"ratio_to_{peer}"] = figures["e2e_events_per_s"] / figures[f"peer_{peer}_events_per_s"]
        steady = figures[f"peer_{peer}_steady_events_per_s"]
        ratios[f"steady_ratio_to_{peer}"] = figures["e2e_steady_events_per_s"] / steady if steady else None
        worker_cpu = figures["cpu_s_per_1m_worker"]
        peer_cpu = sum(v for k, v in figures.items() if k.startswith(f"peer_{peer}_cpu_s_per_1m_"))
        ratios[f"cpu_ratio_{peer}_to_costline"] = peer_cpu / (
            worker_cpu + figures["cpu_s_per_1m_kafka"] + figures["cpu_s_per_1m_clickhouse"]
        )
    return ratios


def run_phases(settings: Settings, args: argparse.Namespace, out: Results) -> None:
    """Each phase asked for by ``--phases``, in the order the figures are read."""
    phases = set(args.phases.split(","))
    if phases & {"raw", "e2e", "peers"}:
        raw_and_e2e(settings, args, phases, out)
    if "latency" in phases:
        rate, seconds = args.latency_rate, args.latency_seconds
        out.say(f"3. latency at {rate}/s for {seconds}s, right after the phases before")
        out.record(latency(settings, rate, seconds, args.partitions))
        out.say("3b. the same, isolated: once ClickHouse has finished merging what came before")
        isolated = latency(settings, rate, seconds, args.partitions, settled=True)
        out.record({f"isolated_{key}": value for key, value in isolated.items()})
    if "query" in phases:
        out.say(f"4. invoice query over {args.query_rows:,} ledger rows")
        out.record(query_bench(settings, args.query_rows, args.query_runs, args.ledger_ids))
    if "dedup" in phases:
        from bench.dedup import dedup_bench  # here: it needs streams.dedup of this tree

        out.say(f"6. dedup: {args.dedup_ids:,} ids counted in the last day")
        out.record(asyncio.run(dedup_bench(settings, args.dedup_ids)))
    if "size" in phases:
        out.say(f"5a. ledger bytes per row, {args.query_rows:,} rows, merged")
        out.record(size_bench(settings, args.query_rows, args.ledger_ids))
    if "invoice" in phases:
        out.say(f"5. draft invoices over {args.query_rows:,} ledger rows")
        out.record(invoice_bench(settings, args.query_rows, args.invoice_runs, args.ledger_ids))
    if "alerts" in phases:
        out.say(f"7a. alert latency at {args.latency_rate}/s for {args.latency_seconds}s")
        out.record(alert_latency(settings, args.latency_rate, args.latency_seconds, args.alert_every))
    if "rules" in phases:
        rules_throughput(settings, args, out)
    if "restart" in phases:
        out.say(f"6. restart after {args.restart_events:,} events of history")
        out.record(
            restart_after_history(
                settings,
                args.restart_events,
                args.partitions,
                args.restart_event_rate,
                args.batch_max,
                out.say,
            )
        )


def print_results(results: dict[str, Any], json_only: bool) -> None:
    """A table of the figures (unless ``json_only``), then all of them as one JSON line."""
    if not json_only:
        width = max(map(len, results))
        for key, value in results.items():
            shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
            print(f"{key:<{width}}  {shown}")
    print(orjson.dumps(results).decode())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = get_settings()
    started = local_servers.up(settings)
    out = Results(quiet=args.json, figures={"events": args.events})
    out.record({"machine_python_reference_s": cpu.python_reference_s()})
    try:
        run_phases(settings, args, out)
    finally:
        local_servers.down(settings, tuple(started))
    print_results(out.figures, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
