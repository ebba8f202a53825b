"""An isolated pipeline for tests and benchmarks: its own topics, database and worker process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from clickhouse_connect.driver.client import Client

from costline.clickhouse import open_client, read_query
from costline.config import Settings
from costline.dev import worker_process
from costline.kafka import delete_app_topics, ensure_topics, topic_partitions
from costline.kafka_auth import client_security
from costline.migrations import migrate
from costline.price_versions import publish_and_record
from costline.publisher import UsagePublisher
from schemas.dead_letters import DeadLetter
from schemas.events import UsageEvent
from schemas.prices import PriceVersion, load_price_dir

# Tests and benchmarks publish fixed dates (a sample day in 2026-11) and
# deliberately late or early events; live bounds would turn them away as the
# calendar moves on. A test of the bounds passes its own to create().
TEST_DATA_BOUNDS = {"event_max_age_s": 100 * 365 * 86400.0, "event_max_future_s": 100 * 365 * 86400.0}


@dataclass
class Pipeline:
    settings: Settings
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    log_paths: list[str] = field(default_factory=list)
    log_path: str = ""  # the newest worker's
    # More COSTLINE_* settings for this pipeline's workers (a short timeout, wider bounds).
    worker_env: dict[str, str] = field(default_factory=dict)
    _client: Client | None = field(default=None, repr=False)

    @classmethod
    def create(cls, base: Settings, name: str, partitions: int = 4, **overrides: Any) -> Pipeline:
        run = f"{name}-{uuid.uuid4().hex[:8]}"
        settings = base.model_copy(
            update={
                **TEST_DATA_BOUNDS,
                **overrides,
                "app_id": f"costline-test-{run}",
                "usage_topic": f"costline-test-{run}.usage",
                "prices_topic": f"costline-test-{run}.prices",
                "dead_letter_topic": f"costline-test-{run}.usage.dlq",
                "budgets_topic": f"costline-test-{run}.budgets",
                "alerts_topic": f"costline-test-{run}.alerts",
                "budget_spend_topic": f"costline-test-{run}.budget_spend",
                "clickhouse_database": f"costline_test_{run.replace('-', '_')}",
                "partitions": partitions,
            }
        )
        migrate(settings, log=lambda _: None)
        asyncio.run(ensure_topics(settings))
        return cls(settings)

    @property
    def db(self) -> Client:
        if self._client is None:
            self._client = open_client(self.settings)
        return self._client

    def load_prices(self, versions: Iterable[PriceVersion] | None = None) -> None:
        versions = list(versions if versions is not None else load_price_dir(self.settings.prices_dir))
        publish_and_record(self.settings, self.db, versions)

    def env(self, batch_max: int) -> dict[str, str]:
        return worker_process.worker_env(self.settings, os.environ, batch_max, self.worker_env)

    def start_worker(self, batch_max: int = 500) -> None:
        """Another worker process; tests use small batches so a kill lands between and inside them."""
        log_dir = self.settings.home / "run" / "test-workers"
        self.log_path = str(log_dir / f"{self.settings.app_id}-{len(self.log_paths)}.log")
        self.log_paths.append(self.log_path)
        self.workers.append(worker_process.start(self.env(batch_max), Path(self.log_path)))

    @property
    def worker(self) -> subprocess.Popen[bytes] | None:
        """The newest worker still running."""
        running = [w for w in self.workers if w.poll() is None]
        return running[-1] if running else None

    def kill_worker(self, sig: int = signal.SIGKILL) -> None:
        """Stop every worker of this pipeline (SIGKILL: no goodbye)."""
        for worker in self.workers:
            worker_process.stop(worker, sig, timeout=60)
        self.workers.clear()

    def worker_log(self, index: int = -1) -> str:
        try:
            with open(self.log_paths[index], errors="replace") as f:
                return f.read()[-5000:]
        except (OSError, IndexError):
            return ""

    def workers_report(self) -> str:
        """Every worker's warnings and errors, then the tail of its log: what a failed wait shows."""
        parts = []
        for path in self.log_paths:
            try:
                with open(path, errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            notable = worker_process.notable(text)
            parts.append(
                f"==== {path}: {len(notable)} warnings and errors\n"
                + "\n".join(notable[-40:])
                + f"\n---- last lines\n{text[-3000:]}"
            )
        return "\n".join(parts)

    def web_url(self, index: int = -1, timeout: float = 120) -> str:
        """The worker's /healthz, /readyz and /metrics, on the port the OS gave it."""
        deadline = time.monotonic() + timeout
        path = Path(self.log_paths[index])
        while (url := worker_process.web_url(path.read_text(errors="replace"))) is None:
            if time.monotonic() > deadline or self.workers[index].poll() is not None:
                report = self.worker_log(index)
                raise AssertionError(f"worker logged no web URL after {timeout:.0f}s:\n{report}")
            time.sleep(0.2)
        return url

    def wait_until_ready(self, index: int = -1, timeout: float = 120) -> None:
        """Until a worker has joined the group and finished restoring its tables."""
        deadline = time.monotonic() + timeout
        while worker_process.READY not in self.worker_log(index):
            if time.monotonic() > deadline:
                raise AssertionError(f"worker not ready after {timeout:.0f}s:\n{self.worker_log(index)}")
            time.sleep(0.2)

    def publish(
        self,
        events: Iterable[UsageEvent],
        raw: Iterable[tuple[bytes | None, bytes]] = (),
        max_events: int = 500,
    ) -> None:
        """Through the SDK (``max_events`` per message), then ``raw`` messages as they are."""

        async def run() -> None:
            async with UsagePublisher.from_settings(self.settings, max_events=max_events) as p:
                await p.publish_many(events)
                for key, value in raw:
                    await p.publish_raw(key, value)
                await p.flush()

        asyncio.run(run())

    def scalar(self, sql: str, **parameters: Any) -> Any:
        return self.db.query(sql, parameters=parameters).result_rows[0][0]

    def rows(self, sql: str, **parameters: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.db.query(sql, parameters=parameters).result_rows]

    def wait_for(self, sql: str, expected: Any, timeout: float = 120, **parameters: Any) -> Any:
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.scalar(sql, **parameters)
            if value == expected:
                return value
            dead = [w for w in self.workers if w.poll() is not None]
            if dead:
                raise AssertionError(f"worker exited ({dead[0].returncode}):\n{self.workers_report()}")
            time.sleep(0.5)
        raise AssertionError(f"{sql!r} gave {value!r}, wanted {expected!r}\n{self.workers_report()}")

    def wait_until_counted(self, count: int, timeout: float = 240) -> None:
        """Until ``count`` distinct events are in the ledger and in the hourly windows."""
        self.wait_for("SELECT count() FROM ledger FINAL", count, timeout=timeout)
        self.wait_for(
            "SELECT sum(events) FROM cost_windows FINAL WHERE agent_id = '*' AND window_size = 3600",
            count, timeout=timeout,
        )  # fmt: skip

    def customer_totals(self) -> dict[str, Decimal]:
        """Each customer's cost, from the hourly per-customer windows."""
        return dict(self.rows(
            "SELECT customer_id, sum(cost) FROM cost_windows FINAL "
            "WHERE agent_id = '*' AND window_size = 3600 GROUP BY customer_id"
        ))  # fmt: skip

    def windows_match_ledger(self) -> bool:
        """Every window of every size equals the same window summed from the ledger."""
        return all(
            self.rows(read_query("window_totals"), size=size)
            == self.rows(read_query("ledger_windows"), size=size)
            for size in self.settings.window_sizes
        )

    def wait_until_windows_match_ledger(self, timeout: float = 60) -> None:
        """Until the windows equal the ledger: a batch's window rows land just after its ledger rows."""
        deadline = time.monotonic() + timeout
        while not self.windows_match_ledger():
            if time.monotonic() > deadline:
                report = self.workers_report()
                raise AssertionError(f"windows differ from the ledger after {timeout:.0f}s\n{report}")
            time.sleep(0.5)

    def dead_letters(self, count: int, timeout: float = 60) -> list[DeadLetter]:
        async def run() -> list[DeadLetter]:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap,
                group_id=None,
                **client_security(self.settings),
            )
            await consumer.start()
            try:
                topic = self.settings.dead_letter_topic
                tps = [TopicPartition(topic, p) for p in await topic_partitions(self.settings, topic)]
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                found: list[DeadLetter] = []
                deadline = time.monotonic() + timeout
                while len(found) < count and time.monotonic() < deadline:
                    for records in (await consumer.getmany(timeout_ms=500)).values():
                        found += [DeadLetter.from_record(r.key, r.value, r.headers) for r in records]
                return found
            finally:
                await consumer.stop()

        return asyncio.run(run())

    def close(self, keep_data: bool = False) -> None:
        """Stop the workers and drop the run's database and topics: a benchmark's runs would
        otherwise leave gigabytes of events on the local broker."""
        self.kill_worker(signal.SIGTERM)
        if self._client is not None:
            self._client.close()
        if not keep_data:
            admin = open_client(self.settings, database="")
            admin.command(f"DROP DATABASE IF EXISTS `{self.settings.clickhouse_database}`")
            admin.close()
            asyncio.run(delete_app_topics(self.settings))
