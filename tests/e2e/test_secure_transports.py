"""Secure transports against real secured services: Kafka over SASL_SSL with SCRAM, ClickHouse over
HTTPS with CA verification as a user with a password (fixture ``secure_services`` in conftest.py).

The worker is a process configured as an operator would: its secrets come from files
(``*_FILE``), and no secret appears in what it or the CLI prints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from costline.cli_errors import EXIT_UNAVAILABLE
from costline.dev.demo import demo_price_versions
from costline.dev.harness import Pipeline
from tests.e2e.conftest import SecureServices
from tests.factories import day_at, event

# 2,000 input at $2.50/M + 1,000 cached at $1.25/M + 1,000 output at $10/M (test_pipeline.py's a1)
LLM_CALL = event(
    "secure-1",
    "llm",
    customer="acme",
    agent="support-bot",
    at=day_at("10:00:00"),
    provider="openai",
    model="gpt-4o",
    input_tokens=3000,
    cached_input_tokens=1000,
    output_tokens=1000,
)


def secure_env(secure: SecureServices, secrets_dir: Path) -> dict[str, str]:
    """The environment of a process using the secured services, its passwords in files."""
    s = secure.settings
    kafka_file, clickhouse_file = secrets_dir / "kafka-password", secrets_dir / "clickhouse-password"
    kafka_file.write_text(secure.kafka_password + "\n")  # as `echo … >` or a Kubernetes secret leaves it
    clickhouse_file.write_text(secure.clickhouse_password + "\n")
    return {
        "COSTLINE_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
        "COSTLINE_KAFKA_SECURITY_PROTOCOL": s.kafka_security_protocol.value,
        "COSTLINE_KAFKA_SASL_MECHANISM": s.kafka_sasl_mechanism.value,
        "COSTLINE_KAFKA_SASL_USERNAME": s.kafka_sasl_username,
        "COSTLINE_KAFKA_SASL_PASSWORD_FILE": str(kafka_file),
        "COSTLINE_KAFKA_SSL_CA_FILE": str(s.kafka_ssl_ca_file),
        "COSTLINE_CLICKHOUSE_URL": s.clickhouse_url,
        "COSTLINE_CLICKHOUSE_USER": s.clickhouse_user,
        "COSTLINE_CLICKHOUSE_PASSWORD_FILE": str(clickhouse_file),
        "COSTLINE_CLICKHOUSE_CA_FILE": str(s.clickhouse_ca_file),
    }


@pytest.fixture(scope="module")
def secured(secure_services: SecureServices, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    p = Pipeline.create(secure_services.settings, "secure")
    p.worker_env = secure_env(secure_services, tmp_path_factory.mktemp("secrets"))
    p.load_prices(demo_price_versions(p.settings))
    p.start_worker()
    yield p
    p.close()


def test_kafka_over_sasl_ssl_works_end_to_end(secured: Pipeline, secure_services: SecureServices) -> None:
    """Published with SCRAM over TLS, priced by a worker on the same, read over HTTPS as costline_app."""
    secured.publish([LLM_CALL])

    secured.wait_until_counted(1)
    assert secured.rows("SELECT event_id, cost FROM ledger FINAL") == [("secure-1", Decimal("0.01625"))]
    assert secured.scalar("SELECT currentUser()") == "costline_app"
    worker_log = "".join(secured.worker_log(i) for i in range(len(secured.log_paths)))
    assert secure_services.kafka_password not in worker_log
    assert secure_services.clickhouse_password not in worker_log


def costline(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "costline.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_one_clear_line(done: subprocess.CompletedProcess[str], says: str, secure: SecureServices) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == EXIT_UNAVAILABLE, output
    assert "Traceback" not in output
    assert done.stderr.count("\n") == 1, output
    assert says in done.stderr
    assert secure.kafka_password not in output
    assert secure.clickhouse_password not in output


def test_a_wrong_scram_password_is_one_line_saying_the_login_was_refused(
    secured: Pipeline, secure_services: SecureServices, tmp_path: Path
) -> None:
    env = {**secured.worker_env, "COSTLINE_USAGE_TOPIC": secured.settings.usage_topic}
    Path(env["COSTLINE_KAFKA_SASL_PASSWORD_FILE"]).write_text("not-the-password\n")
    events = tmp_path / "events.jsonl"
    events.write_text(LLM_CALL.model_dump_json() + "\n")
    try:
        done = costline(["publish", str(events)], env)
    finally:
        Path(env["COSTLINE_KAFKA_SASL_PASSWORD_FILE"]).write_text(secure_services.kafka_password + "\n")

    assert_one_clear_line(done, "refused the login", secure_services)
    assert "not-the-password" not in done.stdout + done.stderr


def test_an_untrusted_ca_is_one_line_saying_tls_failed(
    secured: Pipeline, secure_services: SecureServices, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=stranger",
         "-keyout", str(tmp_path / "stranger.key"), "-out", str(stranger)],
        capture_output=True, check=True,
    )  # fmt: skip
    env = {**secured.worker_env, "COSTLINE_KAFKA_SSL_CA_FILE": str(stranger)}

    done = costline(["dlq", "list"], env)

    assert_one_clear_line(done, "CERTIFICATE_VERIFY_FAILED", secure_services)


def test_a_wrong_clickhouse_password_is_one_line_saying_the_login_was_refused(
    secured: Pipeline, secure_services: SecureServices, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    env = {
        **secured.worker_env,
        "COSTLINE_CLICKHOUSE_PASSWORD_FILE": str(wrong),
        "COSTLINE_CLICKHOUSE_DATABASE": secured.settings.clickhouse_database,
    }

    done = costline(["db", "migrate"], env)

    assert_one_clear_line(done, "ClickHouse refused the login", secure_services)
