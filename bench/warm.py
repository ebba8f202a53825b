"""Workers timed warm: started on an empty topic, the events published once their group is settled.

Started cold on a topic already full, two workers rebalance while they count
(ready ~13-15 s apart), so most events are counted before the second is
ready and a rate from "ready" covers a small remainder. Warm, the clock runs
from the first event produced to the last one counted, with the same group
for the whole interval, so one worker and N compare like with like.

Settled: the group is Stable with one member per worker, the usage topic's
partitions are all assigned, each to one member, and every worker's /readyz
has answered 200 at each poll for ``hold_s``. /readyz alone is not enough:
a worker turns 503 when partitions are assigned, not when they are revoked,
so between a revocation and the next assignment it still says 200.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from bench import cpu
from bench.counting import Counting, until_counted
from bench.services import service_pids
from costline.config import Settings
from costline.dev.harness import Pipeline
from costline.kafka_auth import client_security


def member_partitions(assignments: Iterable[bytes], topic: str) -> list[set[int]]:
    """Each member's partitions of ``topic``, from the assignments DescribeGroups returns."""
    found = []
    for raw in assignments:
        mine: set[int] = set()
        if raw:  # empty while the group is between generations
            decoded: Any = ConsumerProtocolMemberAssignment.decode(raw)
            for name, partitions in decoded.assignment:
                if name == topic:
                    mine.update(partitions)
        found.append(mine)
    return found


def group_settled(state: str, members: list[set[int]], workers: int, partitions: int) -> bool:
    """Stable, one member per worker, every partition assigned and none twice."""
    assigned = [p for mine in members for p in mine]
    return (
        state == "Stable"
        and len(members) == workers
        and len(assigned) == partitions
        and set(assigned) == set(range(partitions))
    )


@dataclass
class Held:
    """True once a condition has held at every observation for ``hold_s``."""

    hold_s: float
    since: float | None = None

    def observe(self, now: float, holds: bool) -> bool:
        if not holds:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return now - self.since >= self.hold_s


async def describe_group(settings: Settings, group: str, topic: str) -> tuple[str, list[set[int]]]:
    """The group's state and each member's partitions of ``topic``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **client_security(settings))
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    # DescribeGroups: (error_code, group_id, state, protocol_type, protocol, members, ...)
    # and each member: (member_id, client_id, client_host, metadata, assignment).
    _error, _group, state, _type, _protocol, members, *_ = response.groups[0]
    return str(state), member_partitions((member[4] for member in members), topic)


def all_ready(urls: list[str]) -> bool:
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status != 200:
                    return False
        except (urllib.error.URLError, OSError):
            return False  # 503: assigned partitions are being restored
    return True


def wait_until_settled(p: Pipeline, workers: int, hold_s: float = 2.0, timeout: float = 600) -> float:
    """Until the group is settled (module doc) for ``hold_s``; seconds waited."""
    settings = p.settings
    urls = [p.web_url(index, timeout=timeout) + "/readyz" for index in range(workers)]
    held = Held(hold_s)
    started = time.monotonic()
    while True:
        state, members = asyncio.run(describe_group(settings, settings.app_id, settings.usage_topic))
        settled = group_settled(state, members, workers, settings.partitions) and all_ready(urls)
        now = time.monotonic()
        if held.observe(now, settled):
            return now - started
        dead = [w for w in p.workers if w.poll() is not None]
        if dead or now - started > timeout:
            raise RuntimeError(
                f"group not settled after {now - started:.0f}s (state {state}, "
                f"members {members}):\n{p.workers_report()}"
            )
        time.sleep(0.2)


def warm_end_to_end(
    p: Pipeline,
    messages: list[tuple[bytes, bytes]],
    n: int,
    expected: Decimal,
    batch_max: int,
    workers: int,
) -> dict[str, Any]:
    """``workers`` workers on ``p``'s empty topic, settled, then ``messages`` (``n`` events) published.

    Timed from the first event produced to the last counted in the ledger and
    in the hourly windows (as :func:`bench.run.end_to_end` waits for them).
    CPU seconds of the workers, Kafka and ClickHouse over that interval per
    1M events; the bench's own producer is not among them.
    """
    from bench.run import peak_rss_mb, publish  # bench.run imports this module

    began = time.monotonic()
    for _ in range(workers):
        p.start_worker(batch_max=batch_max)
    settled_s = wait_until_settled(p, workers)
    pids = {"worker": [w.pid for w in p.workers]} | service_pids(p.settings)
    cpu_before, machine_before = cpu.snapshot(pids), cpu.machine_snapshot()
    watch = Counting(n, time.perf_counter())
    produced: dict[str, float] = {}
    failed: list[BaseException] = []

    def produce() -> None:
        try:
            produced["rate"] = asyncio.run(
                publish(p.settings.kafka_bootstrap, p.settings.usage_topic, messages)
            )
        except BaseException as exc:  # raised again from the counting thread
            failed.append(exc)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()

    def check() -> None:
        if failed:
            raise RuntimeError("publishing failed") from failed[0]
        if any(w.poll() is not None for w in p.workers):
            raise RuntimeError(f"worker died:\n{p.workers_report()}")

    until_counted(p, watch, check)
    done = time.perf_counter()
    cpu_after, machine_after = cpu.snapshot(pids), cpu.machine_snapshot()
    producer.join()
    check()
    ledger_total = p.scalar("SELECT sum(cost) FROM ledger FINAL")
    window_total = p.scalar(
        "SELECT sum(cost) FROM cost_windows FINAL WHERE agent_id = '*' AND window_size = 3600"
    )
    return {
        "workers": workers,
        "settled_s": settled_s,
        "startup_s": watch.started - began,
        "publish_events_per_s": produced["rate"] * n / len(messages),
        "events_per_s": n / (done - watch.started),
        "ledger_events_per_s": watch.rate,
        "totals_exact": ledger_total == window_total == expected,
        "worker_peak_rss_mb": max(peak_rss_mb(w.pid) for w in p.workers),
        # Near 1: every core was busy, so more workers could not run faster (other jobs share the box).
        "machine_busy_fraction": cpu.busy_fraction(machine_before, machine_after),
        **cpu.per_million(cpu_before, cpu_after, n),
    }
