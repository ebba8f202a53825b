"""Restart after history: how long a SIGKILLed worker takes to be ready and counting again.

Builds ``n`` events of history through a real worker, kills it with
SIGKILL, publishes one new event and starts a new worker. Two figures:
``restart_ready_s`` (process start to Faust's "Ready": group joined, tables
restored) and ``restart_counting_s`` (process start to the new event in the
ledger). Beside them, what the restart had to read: the changelog records
left after compaction, and the ids of the dedup rebuild.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.workload import DAY, events, expected_total, pack
from costline.clickhouse import read_query
from costline.config import Settings, get_settings
from costline.dev import worker_process
from costline.dev.harness import Pipeline
from costline.kafka import changelog_topic, topic_partitions
from costline.kafka_auth import client_security
from schemas.prices import load_price_dir
from streams.pricing import PriceCatalog


async def produce(bootstrap: str, topic: str, pairs: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        **client_security(get_settings()),
    )
    await producer.start()
    try:
        for key, value in pairs:
            await producer.send(topic, value=value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def changelog_records(settings: Settings) -> dict[str, int]:
    """What a restore reads now: records and tombstones still in the changelog, and its offsets."""
    topic = changelog_topic(settings)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=None, **client_security(settings)
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await topic_partitions(settings, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records = tombstones = 0
        keys: set[bytes] = set()
        for tp in tps:
            while await consumer.position(tp) < end[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=50_000)
                for record in batch.get(tp, []):
                    records += 1
                    if record.value is None:
                        tombstones += 1
                        keys.discard(record.key or b"")
                    else:
                        keys.add(record.key or b"")
        return {
            "changelog_offsets": sum(end.values()),
            "changelog_records": records,
            "changelog_tombstones": tombstones,
            "changelog_live_keys": len(keys),
        }
    finally:
        await consumer.stop()


def log_mark_time(p: Pipeline, index: int, mark: str, started: float, timeout: float) -> float:
    """Seconds from ``started`` until ``mark`` appears in worker ``index``'s log."""
    deadline = time.monotonic() + timeout
    while mark not in p.worker_log(index):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {mark!r} after {timeout:.0f}s:\n{p.worker_log(index)}")
        if p.worker is None:
            raise RuntimeError(f"worker exited:\n{p.workers_report()}")
        time.sleep(0.05)
    return time.monotonic() - started


# A worker's log lines as it starts, in order: where the time of a start goes.
_PHASE_MARKS = (
    ("starting", "[^Worker]: Starting..."),
    ("tables", "Waiting for tables to be registered"),
    ("joined", "Joined group"),
    ("restored", "generation id"),  # logged once the tables' own restore is done
    ("ready", worker_process.READY),
)
_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")


def start_phases(log: str, ready_s: float) -> dict[str, float]:
    """How a worker's start to ready splits, from its log: before Faust starts (imports, topics),
    Faust's start to joining the group, the tables' restore, and Faust's recovery after it."""
    at: dict[str, float] = {}
    for line in log.splitlines():
        stamp = _STAMP.match(line)
        for name, mark in _PHASE_MARKS:
            if stamp and name not in at and mark in line:
                at[name] = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    if len(at) < len(_PHASE_MARKS):
        return {}
    return {
        "restart_before_faust_s": ready_s - (at["ready"] - at["starting"]),
        "restart_to_joined_s": at["joined"] - at["starting"],
        "restart_restore_s": at["restored"] - at["joined"],
        "restart_recovery_s": at["ready"] - at["restored"],
    }


def probe_event(n: int, at: datetime) -> tuple[bytes, bytes]:
    event = {
        "kind": "tool",
        "tool": "twilio-sms",
        "event_id": f"restart-probe-{n}",
        "occurred_at": at.isoformat(),
        "customer_id": "cust-0000",
        "agent_id": "restart-probe",
    }
    return b"cust-0000", orjson.dumps(event)


def dedup_rebuild(p: Pipeline, partitions: int) -> tuple[int, float]:
    """The id hashes a restart reads back to rebuild its dedup filters, and how long that takes."""
    started = time.monotonic()
    since_ms = int((time.time() - p.settings.dedup_horizon_s) * 1000)
    ids = 0
    for partition in range(partitions):
        ids += len(
            p.db.query(
                read_query("event_id_hashes"), parameters={"partition": partition, "since_ms": since_ms}
            ).result_rows
        )
    return ids, time.monotonic() - started


def restart_after_history(
    settings: Settings,
    n: int,
    partitions: int,
    event_rate: float,
    batch_max: int,
    say: Any = print,
) -> dict[str, Any]:
    """Build ``n`` events of history, SIGKILL the worker, and time its successor."""
    catalog = PriceCatalog(load_price_dir(settings.prices_dir))
    span = n / event_rate
    pairs = list(events(n, span_s=span, seed=7))
    expected = expected_total(pairs, catalog)
    messages = pack(pairs, 100)
    p = Pipeline.create(settings, "restart", partitions=partitions)
    try:
        p.load_prices()
        say(f"    history: {n:,} events over {span:,.0f} s of event time, {len(messages):,} messages")
        asyncio.run(produce(settings.kafka_bootstrap, p.settings.usage_topic, messages))
        built = time.monotonic()
        p.start_worker(batch_max=batch_max)
        p.wait_until_counted(n, timeout=3600)
        history_s = time.monotonic() - built
        # A worker runs its expiry every 30 s; let it run once on the last watermark,
        # as a worker that had kept running would have.
        time.sleep(35)
        # Counted before the kill, so the successor starts right after it, as under a supervisor.
        changelog = asyncio.run(changelog_records(p.settings))
        say(f"    changelog before the kill: {changelog}")
        p.kill_worker(signal.SIGKILL)
        killed = time.monotonic()
        probe_at = DAY + timedelta(seconds=span)
        asyncio.run(produce(settings.kafka_bootstrap, p.settings.usage_topic, [probe_event(0, probe_at)]))
        started = time.monotonic()
        p.start_worker(batch_max=batch_max)
        ready_s = log_mark_time(p, -1, worker_process.READY, started, timeout=600)
        p.wait_for("SELECT count() FROM ledger WHERE agent_id = 'restart-probe'", 1, timeout=600)
        counting_s = time.monotonic() - started
        first_batch = next(
            (line for line in p.worker_log(-1).splitlines() if "batch:" in line), "(no batch line)"
        )
        p.wait_until_counted(n + 1, timeout=600)
        ledger_total = p.scalar("SELECT sum(cost) FROM ledger FINAL WHERE agent_id != 'restart-probe'")
        rebuild_ids, rebuild_s = dedup_rebuild(p, partitions)
        return {
            "restart_history_events": n,
            "restart_history_build_s": history_s,
            **changelog,
            "restart_since_kill_s": started - killed,
            "restart_ready_s": ready_s,
            **start_phases(p.worker_log(-1), ready_s),
            "restart_counting_s": counting_s,
            "restart_first_batch": first_batch.split("batch: ", 1)[-1],
            "restart_dedup_rebuild_ids": rebuild_ids,
            "restart_dedup_rebuild_s": rebuild_s,
            "restart_totals_exact": ledger_total == expected and p.windows_match_ledger(),
            "restart_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    finally:
        p.close()
