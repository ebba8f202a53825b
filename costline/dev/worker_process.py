"""Worker processes for the demo, the test harness and the benches: their environment, start and stop.

A worker is ``costline worker`` in a child process, configured only through
``COSTLINE_*`` variables: the child reads its settings as any worker does, so
what runs under a test is what runs in production.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from costline.config import Settings

# Faust logs this once the worker has joined its group and restored its tables.
READY = "[^Worker]: Ready"
# What makes one pipeline's worker differ from another's: its names, its
# services, its partitions and its occurred_at bounds. Every other setting
# the child reads from the environment it inherits.
WORKER_SETTINGS = (
    "app_id",
    "usage_topic",
    "prices_topic",
    "dead_letter_topic",
    "budgets_topic",
    "alerts_topic",
    "budget_spend_topic",
    "clickhouse_database",
    "partitions",
    "kafka_bootstrap",
    "clickhouse_url",
    "event_max_age_s",
    "event_max_future_s",
)
# streams.agents logs where the worker's /healthz, /readyz and /metrics answer.
_WEB_URL = re.compile(r"worker web: (http://\S+)")
_LOG_TIME_FORMAT = "%Y-%m-%d %H:%M:%S,%f"  # Faust's "[2026-11-20 12:00:00,123] ..." prefix


def data_dir(settings: Settings) -> Path:
    """Where a worker of ``settings.app_id`` keeps its local table state."""
    return settings.home / "run" / settings.app_id


def worker_env(
    settings: Settings,
    inherited: Mapping[str, str],
    batch_max: int | None = None,
    extra: Mapping[str, str] | None = None,
    web_port: int = 0,
) -> dict[str, str]:
    """The environment of a worker for ``settings``: ``inherited``, then its settings, then ``extra``.

    ``extra`` comes last so a test can give one pipeline's workers a setting
    of their own (a short ClickHouse timeout, wider bounds). The web port is
    0 unless given: tests and the demo run workers side by side, and each
    gets a port of its own from the OS, logged at start (:func:`web_url`).
    """
    env = dict(inherited)
    for name in WORKER_SETTINGS:
        env[f"COSTLINE_{name.upper()}"] = str(getattr(settings, name))
    env["COSTLINE_WORKER_DATA_DIR"] = str(data_dir(settings))
    env["COSTLINE_WEB_PORT"] = str(web_port)
    if batch_max is not None:
        env["COSTLINE_BATCH_MAX"] = str(batch_max)
    env.update(extra or {})
    return env


def start(env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``costline worker`` in a child process with ``env``, its output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:  # the child keeps its own handle
        return subprocess.Popen(
            [sys.executable, "-m", "costline.cli", "worker"],
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop(worker: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """Send ``sig`` (SIGKILL: no goodbye) and reap; a worker still there after ``timeout`` is killed."""
    if worker.poll() is not None:
        return
    worker.send_signal(sig)
    try:
        worker.wait(timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def ready_at(log: str) -> datetime | None:
    """When the worker logged that it is ready (local time, as the log says it), or None if not yet."""
    if READY not in log:
        return None
    line = log[: log.index(READY)].rsplit("\n", 1)[-1]
    return datetime.strptime(line[1:24], _LOG_TIME_FORMAT)


def web_url(log: str) -> str | None:
    """Where the worker's web pages answer, as it logged at start; None if not yet."""
    found = _WEB_URL.search(log)
    return found.group(1) if found else None


def notable(log: str) -> list[str]:
    """A worker log's warnings and errors: what a failure report shows first."""
    return [line for line in log.splitlines() if "[WARNING]" in line or "[ERROR]" in line]
