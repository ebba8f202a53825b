"""Every hostile command line ends in one line on stderr and a non-zero status, never a traceback.

These need no service: each is refused while parsing, reading files or
settings, or on a loopback port where nothing listens.
tests/e2e/test_cli_errors.py has the ones that need Kafka and ClickHouse.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from costline import cli, cli_arguments
from costline.cli_errors import EXIT_FAILED, EXIT_UNAVAILABLE, EXIT_USAGE
from costline.config import get_settings

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("COSTLINE_DEBUG", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def costline(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run ``costline argv`` in-process; returns its status and its stderr."""
    try:
        status = cli.main(list(argv))
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    return status, capsys.readouterr().err


def assert_one_line(status: int, err: str, expected_status: int, *words: str) -> None:
    assert status == expected_status, err
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    for word in words:
        assert word in err


def closed_port() -> int:
    """A loopback port nothing listens on (it was just free)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


HOSTILE_ARGUMENTS = [
    (["costs", "--customer", "acme-corp", "--from", "yesterday"], "--from"),
    (["costs", "--customer", "acme-corp", "--to", "2026-11-31"], "--to"),
    (["costs", "--customer", "acme-corp", "--from", "9999-01-01T00:00:00Z"], "outside"),
    (["costs", "--customer", "acme-corp", "--group-by", "agent;DROP"], "cannot group by"),
    (["costs", "--customer", "acme-corp", "--group-by", "agent,agent"], "twice"),
    (["costs", "--customer", "acme-corp", "--format", "xml"], "--format"),
    (["costs"], "--customer"),
    (["invoice", "--customer", "acme-corp", "--period", "9999-12"], "outside"),
    (["invoice", "--customer", "acme-corp", "--period", "2026-13"], "month 13"),
    (["invoice", "--customer", "acme-corp", "--period", "November"], "YYYY-MM"),
    (["invoice", "--all", "--customer", "acme-corp", "--period", "2026-11"], "not allowed"),
    (["export", "--period", "0000-01", "--out", "x.csv"], "outside"),
    (["economics", "--period", "2026-11", "--human-cost", "abc"], "--human-cost"),
    (["economics", "--period", "2026-11", "--human-cost", "-1"], "non-negative"),
    (["economics", "--period", "2026-11", "--infra-cost-per-hour", "NaN"], "--infra-cost-per-hour"),
    (["economics", "--period", "2026-11", "--infra-cost-per-hour", "1e999"], "below"),
    (["dlq", "replay", "--code", "everything"], "--code"),
    (["unknown-command"], "invalid choice"),
    ([], "command"),
]


@pytest.mark.parametrize(("argv", "says"), HOSTILE_ARGUMENTS, ids=[" ".join(a) for a, _ in HOSTILE_ARGUMENTS])
def test_a_bad_argument_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    assert_one_line(*costline(capsys, *argv), EXIT_USAGE, says)


def test_an_empty_time_range_is_refused_before_clickhouse_is_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, err = costline(
        capsys, "costs", "--customer", "acme-corp", "--from", "2026-11-02", "--to", "2026-11-01"
    )
    assert_one_line(status, err, EXIT_USAGE, "must be after --from")


def test_a_truncated_price_file_names_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    truncated = tmp_path / "2026-12.json"
    truncated.write_text('{"version": "2026-12", "effective_from')
    status, err = costline(
        capsys, "prices", "load", str(REPO / "prices" / "2024-10-01-list.json"), str(truncated)
    )
    assert_one_line(status, err, EXIT_USAGE, str(truncated), "not valid JSON")


def test_a_price_file_that_is_not_a_version_says_what_is_wrong(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"version": "v 1", "effective_from": "2026-11-01", "prices": [{"meter": "llm"}]}')
    status, err = costline(capsys, "prices", "load", str(wrong))
    assert_one_line(status, err, EXIT_USAGE, str(wrong), "effective_from", "version")


def test_two_price_files_with_one_version_id_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    original = next((REPO / "prices").glob("*.json"))
    copy = tmp_path / "copy.json"
    copy.write_bytes(original.read_bytes())
    status, err = costline(capsys, "prices", "load", str(original), str(copy))
    assert_one_line(status, err, EXIT_USAGE, "also in")


def test_a_missing_or_truncated_billing_file_names_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    truncated = tmp_path / "bad.json"
    truncated.write_text('{"meters": [')
    status, err = costline(capsys, "plans", "load", str(REPO / "plans" / "meters.json"), str(truncated))
    assert_one_line(status, err, EXIT_USAGE, str(truncated))

    status, err = costline(capsys, "plans", "load", str(tmp_path / "nowhere.json"))
    assert_one_line(status, err, EXIT_USAGE, "nowhere.json", "cannot read")


def test_publishing_a_missing_file_is_refused_before_kafka_is_asked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COSTLINE_KAFKA_BOOTSTRAP", f"127.0.0.1:{closed_port()}")
    status, err = costline(capsys, "publish", str(tmp_path / "events.jsonl"))
    assert_one_line(status, err, EXIT_USAGE, "events.jsonl: no such file")


def test_export_refuses_an_existing_file_before_asking_clickhouse(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("the finance team's own file\n")
    status, err = costline(capsys, "export", "--period", "2026-11", "--out", str(ledger))
    assert_one_line(status, err, EXIT_USAGE, "already exists", "--force")
    assert ledger.read_text() == "the finance team's own file\n"


def test_invoice_out_refuses_an_existing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    kept = tmp_path / "invoice.txt"
    kept.write_text("last month's invoice\n")
    status, err = costline(
        capsys, "invoice", "--customer", "acme-corp", "--period", "2026-11", "--out", str(kept)
    )
    assert_one_line(status, err, EXIT_USAGE, "already exists")
    assert kept.read_text() == "last month's invoice\n"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("COSTLINE_CLICKHOUSE_DATABASE", "costline`; DROP DATABASE costline; --"),
        ("COSTLINE_CLICKHOUSE_DATABASE", "1costline"),
        ("COSTLINE_CLICKHOUSE_DATABASE", "x" * 65),
        ("COSTLINE_USAGE_TOPIC", "usage events"),
        ("COSTLINE_DEAD_LETTER_TOPIC", "t" * 250),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert_one_line(*costline(capsys, "db", "migrate"), EXIT_USAGE, variable, "bad setting")


def test_good_names_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTLINE_CLICKHOUSE_DATABASE", "costline_test_2026")
    monkeypatch.setenv("COSTLINE_USAGE_TOPIC", "costline-test.usage_v2")
    settings = get_settings()
    assert (settings.clickhouse_database, settings.usage_topic) == (
        "costline_test_2026",
        "costline-test.usage_v2",
    )


def test_clickhouse_unreachable_says_what_to_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSTLINE_CLICKHOUSE_URL", f"http://127.0.0.1:{closed_port()}")
    status, err = costline(capsys, "costs", "--customer", "acme-corp")
    assert_one_line(status, err, EXIT_UNAVAILABLE, "cannot reach ClickHouse", "costline services up")


def test_kafka_unreachable_says_what_to_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSTLINE_KAFKA_BOOTSTRAP", f"127.0.0.1:{closed_port()}")
    status, err = costline(capsys, "dlq", "list")
    assert_one_line(status, err, EXIT_UNAVAILABLE, "cannot reach Kafka", "costline services up")


def test_anything_else_is_one_line_with_its_type(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> int:
        raise RuntimeError("the disk caught fire\nsecond line")

    monkeypatch.setattr(cli, "cmd_costs", broken)
    status, err = costline(capsys, "costs", "--customer", "acme-corp")
    assert_one_line(status, err, EXIT_FAILED)
    assert err == "costline costs: RuntimeError: the disk caught fire second line\n"


def test_costline_debug_shows_the_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> int:
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(cli, "cmd_costs", broken)
    monkeypatch.setenv("COSTLINE_DEBUG", "1")
    status, err = costline(capsys, "costs", "--customer", "acme-corp")
    assert status == EXIT_FAILED
    assert "Traceback" in err
    assert err.endswith("costline costs: RuntimeError: the disk caught fire\n")


def test_instants_are_iso_8601_and_utc_without_an_offset() -> None:
    assert cli_arguments.instant("2026-11-03T10:00:00Z") == datetime(2026, 11, 3, 10, tzinfo=UTC)
    assert cli_arguments.instant("2026-11-03T12:00:00+02:00") == datetime(2026, 11, 3, 10, tzinfo=UTC)
    assert cli_arguments.instant("2026-11-03") == datetime(2026, 11, 3, tzinfo=UTC)


def test_periods_groupings_and_amounts() -> None:
    assert cli_arguments.period("2026-01") == "2026-01"
    assert cli_arguments.groupings("agent, window") == ["agent", "window"]
    assert cli_arguments.amount("12.50") == Decimal("12.50")


def test_a_bad_budget_file_is_one_line_naming_the_budget(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "budgets.json"
    bad.write_text('{"budgets": [{"budget_id": "acme-m", "customer_id": "acme", "period": "fortnight"}]}')
    status, err = costline(capsys, "budgets", "load", str(bad))
    assert_one_line(status, err, EXIT_USAGE, str(bad), "acme-m", "period", "amount")


def test_budgets_set_with_a_bad_amount_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, err = costline(
        capsys, "budgets", "set", "--id", "b", "--customer", "acme", "--period", "month", "--amount", "lots"
    )
    assert_one_line(status, err, EXIT_USAGE, "amount")
