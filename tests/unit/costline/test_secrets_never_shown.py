"""A secret given to costline never appears in what it prints or logs, even failing, even debugging.

The services are loopback ports where nothing listens, so every command fails
while connecting: the path on which a client would most likely say its settings.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from costline import cli
from costline.config import get_settings

KAFKA_SECRET = "kafka-SECRET-4f1c9a"
CLICKHOUSE_SECRET = "clickhouse-SECRET-77be02"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=["quiet", "debug"])
def secrets_set(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    ca = tmp_path / "ca.pem"
    ca.write_text("")  # never read: nothing answers the TLS handshake
    env = {
        "COSTLINE_KAFKA_BOOTSTRAP": f"127.0.0.1:{closed_port()}",
        "COSTLINE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "COSTLINE_KAFKA_SASL_USERNAME": "costline",
        "COSTLINE_KAFKA_SASL_PASSWORD": KAFKA_SECRET,
        "COSTLINE_CLICKHOUSE_URL": f"https://127.0.0.1:{closed_port()}",
        "COSTLINE_CLICKHOUSE_USER": "costline_app",
        "COSTLINE_CLICKHOUSE_PASSWORD": CLICKHOUSE_SECRET,
        "COSTLINE_CLICKHOUSE_TIMEOUT_S": "2",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if request.param == "debug":
        monkeypatch.setenv("COSTLINE_DEBUG", "1")
    else:
        monkeypatch.delenv("COSTLINE_DEBUG", raising=False)
    # Every library's records reach the capture, whatever an earlier run of the CLI set.
    for name in ("aiokafka", "clickhouse_connect", "urllib3"):
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
        monkeypatch.setattr(logging.getLogger(name), "level", logging.DEBUG)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["publish", "--help"],
        ["dlq", "list"],
        ["db", "migrate"],
    ],
    ids=" ".join,
)
@pytest.mark.usefixtures("secrets_set")
def test_no_secret_in_output_or_logs(
    argv: list[str], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    try:
        status = cli.main(argv)
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()

    shown = out + err + caplog.text + repr([r.args for r in caplog.records])
    assert KAFKA_SECRET not in shown
    assert CLICKHOUSE_SECRET not in shown
    assert (status == 0) == (argv[-1] == "--help"), err


def test_a_missing_secret_file_is_one_line_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("COSTLINE_CLICKHOUSE_PASSWORD_FILE", str(tmp_path / "absent"))
    get_settings.cache_clear()
    try:
        status = cli.main(["db", "migrate"])
    finally:
        get_settings.cache_clear()

    err = capsys.readouterr().err
    assert status == 2
    missing = tmp_path / "absent"
    assert (
        err
        == f"costline db: bad setting: COSTLINE_CLICKHOUSE_PASSWORD_FILE: {missing} is not a readable file\n"
    )
