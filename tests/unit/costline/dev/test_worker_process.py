"""A worker's environment names its pipeline; its log says when it is ready; a stop always reaps.

No worker is started here: tests/e2e/ start real ones through the harness.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from costline.config import Settings
from costline.dev.worker_process import READY, notable, ready_at, stop, web_url, worker_env

# A test pipeline of its own: names, services, partitions and a narrow future bound.
PIPELINE = Settings(
    home=Path("/tmp/costline-home"),
    app_id="costline-test-acme",
    usage_topic="costline-test-acme.usage",
    prices_topic="costline-test-acme.prices",
    dead_letter_topic="costline-test-acme.usage.dlq",
    budgets_topic="costline-test-acme.budgets",
    alerts_topic="costline-test-acme.alerts",
    budget_spend_topic="costline-test-acme.budget_spend",
    clickhouse_database="costline_test_acme",
    partitions=4,
    kafka_bootstrap="127.0.0.1:49092",
    clickhouse_url="http://127.0.0.1:48123",
    event_max_age_s=86400,
    event_max_future_s=300,
)


def test_a_worker_is_told_its_pipeline_through_costline_variables() -> None:
    env = worker_env(PIPELINE, {"PATH": "/usr/bin"})

    assert env == {
        "PATH": "/usr/bin",
        "COSTLINE_APP_ID": "costline-test-acme",
        "COSTLINE_USAGE_TOPIC": "costline-test-acme.usage",
        "COSTLINE_PRICES_TOPIC": "costline-test-acme.prices",
        "COSTLINE_DEAD_LETTER_TOPIC": "costline-test-acme.usage.dlq",
        "COSTLINE_BUDGETS_TOPIC": "costline-test-acme.budgets",
        "COSTLINE_ALERTS_TOPIC": "costline-test-acme.alerts",
        "COSTLINE_BUDGET_SPEND_TOPIC": "costline-test-acme.budget_spend",
        "COSTLINE_CLICKHOUSE_DATABASE": "costline_test_acme",
        "COSTLINE_PARTITIONS": "4",
        "COSTLINE_KAFKA_BOOTSTRAP": "127.0.0.1:49092",
        "COSTLINE_CLICKHOUSE_URL": "http://127.0.0.1:48123",
        "COSTLINE_EVENT_MAX_AGE_S": "86400.0",
        "COSTLINE_EVENT_MAX_FUTURE_S": "300.0",
        "COSTLINE_WORKER_DATA_DIR": "/tmp/costline-home/run/costline-test-acme",
        "COSTLINE_WEB_PORT": "0",
    }


def test_each_variable_reads_back_as_the_setting_it_came_from() -> None:
    env = worker_env(PIPELINE, {}, batch_max=50)
    given = {name.removeprefix("COSTLINE_").lower(): value for name, value in env.items()}
    # The home is inherited, and the data dir is given as a path of its own.
    mine = {"home", "worker_data_dir", "web_port"}

    read_back = Settings.model_validate(given)

    expected = PIPELINE.model_copy(update={"batch_max": 50})
    assert read_back.model_dump(exclude=mine) == expected.model_dump(exclude=mine)
    assert read_back.worker_data_dir == PIPELINE.home / "run" / PIPELINE.app_id


def test_the_pipeline_overrides_what_the_worker_inherits() -> None:
    env = worker_env(PIPELINE, {"COSTLINE_APP_ID": "someone-elses", "COSTLINE_BATCH_MAX": "9"})

    assert env["COSTLINE_APP_ID"] == "costline-test-acme"
    assert env["COSTLINE_BATCH_MAX"] == "9"  # not a pipeline setting: inherited as it is


def test_a_batch_size_and_a_tests_own_settings_come_last() -> None:
    extra = {"COSTLINE_CLICKHOUSE_TIMEOUT_S": "2", "COSTLINE_EVENT_MAX_AGE_S": str(10 * 366 * 86400)}

    env = worker_env(PIPELINE, {}, batch_max=500, extra=extra)

    assert env["COSTLINE_BATCH_MAX"] == "500"
    assert env["COSTLINE_CLICKHOUSE_TIMEOUT_S"] == "2"
    assert env["COSTLINE_EVENT_MAX_AGE_S"] == "316224000"


def test_a_worker_is_ready_when_its_log_says_so_at_the_time_the_log_says() -> None:
    starting = "[2026-11-20 12:00:00,001] [41] [INFO] [^--Consumer]: Starting...\n"
    ready = f"[2026-11-20 12:00:04,250] [41] [INFO] {READY}.\n"

    assert ready_at(starting) is None
    assert ready_at(starting + ready + "[2026-11-20 12:00:05,000] [41] [INFO] batch: 3 counted\n") == (
        datetime(2026, 11, 20, 12, 0, 4, 250_000)
    )


def test_a_workers_web_url_is_the_one_it_logged_with_the_port_the_os_gave_it() -> None:
    log = "[2026-11-20 12:00:00,123] [42] [INFO] worker web: http://127.0.0.1:41234 (/healthz /metrics)\n"

    assert web_url(log) == "http://127.0.0.1:41234"
    assert web_url("[2026-11-20 12:00:00,123] [42] [INFO] starting\n") is None


def test_a_failure_report_starts_with_the_warnings_and_errors() -> None:
    log = (
        "[2026-11-20 12:00:00,001] [41] [INFO] counted 10\n"
        "[2026-11-20 12:00:01,001] [41] [WARNING] ClickHouse timed out, retrying\n"
        "[2026-11-20 12:00:02,001] [41] [ERROR] gave up\n"
    )

    assert notable(log) == [
        "[2026-11-20 12:00:01,001] [41] [WARNING] ClickHouse timed out, retrying",
        "[2026-11-20 12:00:02,001] [41] [ERROR] gave up",
    ]


def test_a_stopped_worker_is_reaped() -> None:
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    stop(worker, signal.SIGKILL)

    assert worker.returncode == -signal.SIGKILL


def test_a_worker_that_ignores_its_signal_is_killed_after_the_timeout() -> None:
    ignores_term = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ignoring SIGTERM', flush=True)\n"
        "time.sleep(60)\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", ignores_term], stdout=subprocess.PIPE)
    assert worker.stdout is not None and worker.stdout.readline()  # its handler is in place

    stop(worker, signal.SIGTERM, timeout=0.5)

    assert worker.returncode == -signal.SIGKILL


def test_stopping_a_worker_that_already_exited_does_nothing() -> None:
    worker = subprocess.Popen([sys.executable, "-c", "pass"])
    worker.wait()

    stop(worker)

    assert worker.returncode == 0
