"""`costline` against the real broker and ClickHouse: loads are all or nothing, files are never clobbered.

Each test gets its own database and topics, named in the environment as an
operator would, and runs the command line in-process.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from clickhouse_connect.driver.client import Client

from costline import cli
from costline.cli_errors import EXIT_FAILED, EXIT_USAGE
from costline.clickhouse import open_client
from costline.config import Settings, get_settings
from costline.kafka import topic_partitions
from costline.migrations import migrate

REPO = Path(__file__).resolve().parents[2]
METERS = REPO / "plans" / "meters.json"
EXAMPLE = REPO / "plans" / "example.json"
LIST_PRICES = REPO / "prices" / "2024-10-01-list.json"
MIDDAY_PRICES = REPO / "prices" / "demo" / "2026-11-20-midday.json"
BILLING_TABLES = ("meters", "plans", "customers", "subscriptions", "credit_grants")


@pytest.fixture
def operator(services: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings for a fresh database and fresh topics, set in the environment."""
    run = secrets.token_hex(4)
    names = {
        "clickhouse_database": f"costline_test_cli_{run}",
        "usage_topic": f"costline-test-cli-{run}.usage",
        "prices_topic": f"costline-test-cli-{run}.prices",
        "dead_letter_topic": f"costline-test-cli-{run}.usage.dlq",
    }
    for name, value in names.items():
        monkeypatch.setenv(f"COSTLINE_{name.upper()}", value)
    monkeypatch.delenv("COSTLINE_DEBUG", raising=False)
    get_settings.cache_clear()
    settings = services.model_copy(update=names)
    yield settings
    get_settings.cache_clear()
    open_client(settings, database="").command(f"DROP DATABASE IF EXISTS `{settings.clickhouse_database}`")


@pytest.fixture
def db(operator: Settings) -> Iterator[Client]:
    migrate(operator, log=lambda _: None)
    client = open_client(operator)
    yield client
    client.close()


def costline(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line(err: str, *words: str) -> None:
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    for word in words:
        assert word in err, err


def rows(client: Client, table: str) -> int:
    return int(client.query(f"SELECT count() FROM {table} FINAL").result_rows[0][0])


def messages_on(settings: Settings, topic: str) -> int:
    """How many messages ``topic`` holds (0 if it does not exist)."""

    async def count() -> int:
        partitions = await topic_partitions(settings, topic, wait_s=0)
        if not partitions:
            return 0
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in partitions]
            consumer.assign(tps)
            return sum((await consumer.end_offsets(tps)).values())
        finally:
            await consumer.stop()

    return asyncio.run(count())


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_a_database_never_migrated_says_what_to_run(
    operator: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = costline(capsys, "costs", "--customer", "acme-corp")
    assert status == EXIT_FAILED
    assert_one_line(err, "does not exist", "costline db migrate")


def test_costs_with_good_arguments_still_answer(db: Client, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = costline(
        capsys, "costs", "--customer", "acme-corp", "--from", "2026-11-01T00:00:00Z", "--to", "2026-12-01",
        "--group-by", "agent,window", "--format", "json",
    )  # fmt: skip
    assert (status, err, json.loads(out)) == (0, "", [])


def test_one_bad_billing_file_means_no_file_is_loaded(
    db: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = write_json(
        tmp_path / "bad.json",
        {"subscriptions": [{"customer_id": "initech", "plan": "enterprise", "version": "1",
                            "starts_on": "2026-11-01"}]},
    )  # fmt: skip

    status, out, err = costline(capsys, "plans", "load", METERS, EXAMPLE, bad)

    assert status == EXIT_USAGE
    assert_one_line(err, "initech", "no plan enterprise")
    assert out == ""
    assert {table: rows(db, table) for table in BILLING_TABLES} == dict.fromkeys(BILLING_TABLES, 0)


def test_a_changed_plan_version_in_a_later_file_means_nothing_is_loaded(
    db: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    example = json.loads(EXAMPLE.read_text())
    team = next(p for p in example["plans"] if p["plan"] == "team")
    team["charges"][0]["amount"] = "90.00"  # the same version, another price
    changed = write_json(tmp_path / "changed.json", {"plans": [team]})

    status, _, err = costline(capsys, "plans", "load", METERS, EXAMPLE, changed)

    assert status == EXIT_USAGE
    assert_one_line(err, "team", "immutable")
    assert {table: rows(db, table) for table in BILLING_TABLES} == dict.fromkeys(BILLING_TABLES, 0)


def test_files_that_build_on_each_other_load_together(
    db: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    renamed = write_json(
        tmp_path / "renamed.json", {"customers": [{"customer_id": "acme-corp", "name": "Acme Corporation"}]}
    )

    status, out, err = costline(capsys, "plans", "load", METERS, EXAMPLE, renamed)

    assert (status, err) == (0, "")
    assert out.splitlines()[1].startswith(f"{EXAMPLE}: loaded 0 meter(s), 2 plan version(s)")
    assert rows(db, "plans") == 2
    # A later file wins, as if the files were loaded one after the other.
    names = dict(db.query("SELECT customer_id, name FROM customers FINAL").result_rows)
    assert names["acme-corp"] == "Acme Corporation"


def test_one_bad_price_file_means_no_version_is_published_or_recorded(
    operator: Settings, db: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    truncated = tmp_path / "2026-12.json"
    truncated.write_text(MIDDAY_PRICES.read_text()[:200])

    status, _, err = costline(capsys, "prices", "load", LIST_PRICES, truncated)

    assert status == EXIT_USAGE
    assert_one_line(err, str(truncated), "not valid JSON")
    assert rows(db, "price_versions") == 0
    assert messages_on(operator, operator.prices_topic) == 0

    status, out, err = costline(capsys, "prices", "load", LIST_PRICES, MIDDAY_PRICES)
    assert (status, err) == (0, "")
    assert "published 2 price version(s)" in out
    assert messages_on(operator, operator.prices_topic) == 2


def test_an_invoice_file_is_never_overwritten_unasked(
    db: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert costline(capsys, "plans", "load", METERS, EXAMPLE)[0] == 0
    out = tmp_path / "acme.txt"
    invoice = ("invoice", "--customer", "acme-corp", "--period", "2026-11", "--out", out)

    status, said, err = costline(capsys, *invoice)
    assert (status, err) == (0, "")
    assert "wrote the draft invoice INV-acme-corp-2026-11" in said
    first = out.read_text()

    out.write_text("annotated by hand\n")
    status, _, err = costline(capsys, *invoice)
    assert status == EXIT_USAGE
    assert_one_line(err, "already exists", "--force")
    assert out.read_text() == "annotated by hand\n"

    assert costline(capsys, *invoice, "--force")[0] == 0
    assert out.read_text() == first
    assert [p.name for p in tmp_path.iterdir()] == ["acme.txt"]


def test_invoices_for_everyone_refuse_a_folder_that_already_has_them(
    db: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert costline(capsys, "plans", "load", METERS, EXAMPLE)[0] == 0
    folder = tmp_path / "invoices"
    every = ("invoice", "--all", "--period", "2026-11", "--format", "json", "--out", folder)

    assert costline(capsys, *every)[0] == 0
    written = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert sorted(written) == ["INV-acme-corp-2026-11.json", "INV-globex-2026-11.json"]

    status, _, err = costline(capsys, *every)
    assert status == EXIT_USAGE
    assert_one_line(err, "already exists")
    assert costline(capsys, *every, "--force")[0] == 0
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == written


def test_an_export_of_nothing_is_written_whole_and_never_over_a_file(
    db: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "usage.csv"

    status, said, err = costline(capsys, "export", "--period", "2027-02", "--out", out)
    assert (status, said, err) == (0, f"exported 0 rows to {out}\n", "")
    assert out.read_text() == "period,customer_id,meter,day,value,unit\n"

    out.write_text("yesterday's export\n")
    status, _, err = costline(capsys, "export", "--period", "2027-02", "--out", out)
    assert status == EXIT_USAGE
    assert_one_line(err, "already exists")
    assert out.read_text() == "yesterday's export\n"

    assert costline(capsys, "export", "--period", "2027-02", "--out", out, "--force")[0] == 0
    assert out.read_text() == "period,customer_id,meter,day,value,unit\n"
    assert [p.name for p in tmp_path.iterdir()] == ["usage.csv"]
