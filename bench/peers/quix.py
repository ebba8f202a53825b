"""The quixstreams peer, run in a child process (``bench.peers.quix_app``) against its own database.

It reads the bench's usage topic with a consumer group of its own. The rate
is timed from the child's start (its startup is inside the interval, as a
cold start is for Costline's figure from /readyz, within a second or two);
its total is compared with the exact one and the float difference reported.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from typing import Any

from bench import cpu
from bench.counting import Counting
from bench.services import service_pids
from costline.clickhouse import open_client
from costline.config import Settings
from schemas.prices import PriceVersion

TABLES = [
    "CREATE TABLE quix_ledger (event_id String, occurred_at DateTime64(6, 'UTC'), "
    "customer_id LowCardinality(String), agent_id LowCardinality(String), kind LowCardinality(String), "
    "sku LowCardinality(String), cost Float64) ENGINE = MergeTree ORDER BY (customer_id, occurred_at)",
    # The window's latest value wins: .current() emits every update.
    "CREATE TABLE quix_windows (customer_id String, window_start_ms Int64, events UInt64, cost Float64, "
    "updated DateTime64(6) DEFAULT now64(6)) ENGINE = ReplacingMergeTree(updated) "
    "ORDER BY (customer_id, window_start_ms)",
]


def run(
    settings: Settings, topic: str, events: int, expected: Decimal, versions: list[PriceVersion]
) -> dict[str, Any]:
    """Consume ``events`` from ``topic`` through the quixstreams peer; its rate, CPU and float error."""
    del versions  # the child reads the same price files itself
    if importlib.util.find_spec("quixstreams") is None:
        return {"peer_quixstreams_skipped": "not installed: pip install -e '.[bench]'"}
    database = f"costline_peer_quix_{uuid.uuid4().hex[:8]}"
    admin = open_client(settings, database="")
    admin.command(f"CREATE DATABASE `{database}`")
    client = open_client(settings, database=database)
    for statement in TABLES:
        client.command(statement)
    state = tempfile.mkdtemp(prefix="quix-state-", dir=settings.home)
    argv = [settings.kafka_bootstrap, topic, database, settings.clickhouse_url, database,
            str(settings.prices_dir), state]  # fmt: skip
    log = open(settings.home / f"{database}.log", "wb")  # noqa: SIM115 - the child keeps it
    child = subprocess.Popen([sys.executable, "-m", "bench.peers.quix_app", *argv], stdout=log, stderr=log)
    try:
        pids = {"quixstreams": [child.pid]} | service_pids(settings)
        before = cpu.snapshot(pids)

        def alive() -> None:
            if child.poll() is not None:
                raise RuntimeError(f"the quixstreams peer exited ({child.returncode}); see {log.name}")

        watch = Counting(events, time.perf_counter())
        watch.poll(lambda: int(client.query("SELECT count() FROM quix_ledger").result_rows[0][0]), alive)
        after = cpu.snapshot(pids)
        total = client.query("SELECT sum(cost) FROM quix_ledger").result_rows[0][0]
        time.sleep(2)  # the windows sink flushes at the same checkpoint as the ledger's
        windowed = client.query("SELECT sum(cost) FROM quix_windows FINAL").result_rows[0][0]
        return {
            "peer_quixstreams_events_per_s": watch.rate,
            "peer_quixstreams_steady_events_per_s": watch.steady_rate,
            "peer_quixstreams_total_diff_usd": str(Decimal(repr(total)) - expected),
            "peer_quixstreams_windows_diff_usd": str(Decimal(repr(windowed)) - expected),
            **{f"peer_quixstreams_{k}": v for k, v in cpu.per_million(before, after, events).items()},
        }
    finally:
        child.terminate()
        child.wait(timeout=60)
        log.close()
        admin.command(f"DROP DATABASE IF EXISTS `{database}`")
