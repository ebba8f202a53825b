"""`costline export`: a month's usage and invoice lines as files, against the real ClickHouse.

Two customers use three meters in November 2026 (and a little on either
side of it, which must stay out). Every value below is worked out from the
ledger rows by hand.
"""

from __future__ import annotations

import csv
import hashlib
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.external import ExternalData

from billing import exports, store
from billing.exceptions import BillingError
from billing.exports import INVOICE_LINES, USAGE, UsageRow, export, plain
from billing.invoices import LINE_COLUMNS
from billing.periods import Period
from costline.clickhouse import open_client
from costline.config import Settings
from costline.migrations import migrate
from schemas.meters import Meter, MeterFilter
from schemas.plans import BillingFile, Customer
from tests.factories import run_command

NOVEMBER = Period.parse("2026-11")

METERS = [
    Meter(name="tool_calls", aggregation="count", filter=MeterFilter(kinds=["tool"]), unit="calls"),
    Meter(
        name="llm_tokens",
        aggregation="sum",
        field="input_tokens",
        filter=MeterFilter(kinds=["llm"]),
        unit="tokens",
    ),
    Meter(name="spend", aggregation="cost", unit="USD"),
]
CUSTOMERS = [Customer(customer_id="acme", stripe_customer_id="cus_Acme123")]  # globex has no Stripe id

# A writer names the price, quantity and cost by "_sent" columns (sql/ddl/025_ledger_implied_columns.sql).
LEDGER_COLUMNS = [
    "event_id_sent", "occurred_at", "customer_id", "agent_id", "kind_sent", "provider_sent", "sku_sent",
    "unit_sent", "quantity_sent", "input_tokens", "cost_sent", "currency",
]  # fmt: skip


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def llm(event_id: str, customer: str, when: str, tokens: int, cost: str) -> list[Any]:
    return [
        event_id, at(when), customer, "bot", "llm", "openai", "gpt-4o", "tokens",
        Decimal(tokens), tokens, Decimal(cost), "USD",
    ]  # fmt: skip


def tool(event_id: str, customer: str, when: str, cost: str) -> list[Any]:
    return [
        event_id, at(when), customer, "bot", "tool", "tavily", "tavily-search", "calls",
        Decimal(1), 0, Decimal(cost), "USD",
    ]  # fmt: skip


LEDGER = [
    llm("a1", "acme", "2026-11-03T10:00:00", 12_000, "0.03"),
    llm("a2", "acme", "2026-11-03T23:59:59.999999", 500, "0.00125"),  # still the 3rd
    tool("a3", "acme", "2026-11-04T00:00:00", "0.008"),  # already the 4th
    llm("a0", "acme", "2026-10-31T23:59:59", 1_000, "0.0025"),  # October
    tool("a9", "acme", "2026-12-01T00:00:00", "0.008"),  # December
    tool("g1", "globex", "2026-11-30T12:00:00", "0.5"),
    tool("g2", "globex", "2026-11-30T13:00:00", "0.25"),
]

# (customer_id, meter, day, value, unit), in the export's order
NOVEMBER_USAGE = [
    ("acme", "llm_tokens", "2026-11-03", "12500", "tokens"),
    ("acme", "spend", "2026-11-03", "0.03125", "USD"),
    ("acme", "spend", "2026-11-04", "0.008", "USD"),
    ("acme", "tool_calls", "2026-11-04", "1", "calls"),
    ("globex", "spend", "2026-11-30", "0.75", "USD"),
    ("globex", "tool_calls", "2026-11-30", "2", "calls"),
]


@pytest.fixture(scope="module")
def settings(services: Settings) -> Iterator[Settings]:
    fresh = services.model_copy(
        update={"clickhouse_database": f"costline_test_exports_{secrets.token_hex(4)}"}
    )
    migrate(fresh, log=lambda _: None)
    yield fresh
    open_client(fresh, database="").command(f"DROP DATABASE IF EXISTS `{fresh.clickhouse_database}`")


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[Client]:
    c = open_client(settings)
    c.insert("ledger", LEDGER, column_names=LEDGER_COLUMNS)
    store.load(c, BillingFile(meters=METERS, customers=CUSTOMERS))
    yield c
    c.close()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_customers_november_usage_exports_per_meter_and_day(client: Client, tmp_path: Path) -> None:
    out = tmp_path / "usage.csv"

    assert export(client, NOVEMBER, "csv", out) == 6

    assert out.read_text().splitlines()[0] == "period,customer_id,meter,day,value,unit"
    assert [
        (r["customer_id"], r["meter"], r["day"], r["value"], r["unit"]) for r in read_csv(out)
    ] == NOVEMBER_USAGE
    assert {r["period"] for r in read_csv(out)} == {"2026-11"}
    assert b"\r" not in out.read_bytes()


def test_jsonl_usage_has_fixed_keys_and_money_as_strings(client: Client, tmp_path: Path) -> None:
    out = tmp_path / "usage.jsonl"

    export(client, NOVEMBER, "jsonl", out)

    lines = out.read_text().splitlines()
    assert lines[1] == (
        '{"period":"2026-11","customer_id":"acme","meter":"spend","day":"2026-11-03",'
        '"value":"0.03125","unit":"USD"}'
    )
    assert [tuple(r.values())[1:] for r in map(json.loads, lines)] == NOVEMBER_USAGE


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "stripe"])
def test_exporting_twice_gives_the_same_bytes(client: Client, tmp_path: Path, fmt: Any) -> None:
    first, second = tmp_path / "first", tmp_path / "second"

    export(client, NOVEMBER, fmt, first)
    export(client, NOVEMBER, fmt, second)

    assert first.read_bytes() == second.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first", "second"]  # no temporary files left


def test_re_exporting_when_asked_replaces_the_file_whole(client: Client, tmp_path: Path) -> None:
    out = tmp_path / "usage.csv"
    out.write_text("an older, longer export\n" * 1000)

    export(client, NOVEMBER, "csv", out, overwrite=True)

    assert len(read_csv(out)) == 6
    assert [p.name for p in tmp_path.iterdir()] == ["usage.csv"]  # no temporary file left


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "stripe"])
def test_an_existing_file_is_never_overwritten_unasked(client: Client, tmp_path: Path, fmt: Any) -> None:
    out = tmp_path / "finance.csv"
    out.write_text("the finance team's own file\n")

    with pytest.raises(FileExistsError, match="--force"):
        export(client, NOVEMBER, fmt, out)

    assert out.read_text() == "the finance team's own file\n"
    assert [p.name for p in tmp_path.iterdir()] == ["finance.csv"]


def test_an_empty_month_refuses_an_existing_file_too(client: Client, tmp_path: Path) -> None:
    out = tmp_path / "usage.csv"
    out.write_text("kept\n")

    with pytest.raises(FileExistsError):
        export(client, Period.parse("2027-02"), "csv", out)

    assert out.read_text() == "kept\n"


def test_a_file_that_appears_during_the_export_is_kept(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "usage.csv"
    real_rows = exports.usage_rows

    def rows_while_someone_writes_the_file(c: Client, period: Period) -> list[UsageRow]:
        out.write_text("written meanwhile\n")
        return real_rows(c, period)

    monkeypatch.setattr(exports, "usage_rows", rows_while_someone_writes_the_file)
    with pytest.raises(FileExistsError):
        export(client, NOVEMBER, "csv", out)

    assert out.read_text() == "written meanwhile\n"
    assert [p.name for p in tmp_path.iterdir()] == ["usage.csv"]


def test_stripe_events_carry_the_customers_stripe_id_and_a_stable_identifier(
    client: Client, tmp_path: Path
) -> None:
    out = tmp_path / "events.jsonl"

    assert export(client, NOVEMBER, "stripe", out) == 6

    events = read_jsonl(out)
    assert events[0] == {
        "event_name": "llm_tokens",
        "identifier": "costline-" + hashlib.sha256(b"acme|llm_tokens|2026-11-03").hexdigest()[:32],
        "payload": {"stripe_customer_id": "cus_Acme123", "value": "12500"},
        "timestamp": int(at("2026-11-03T23:59:59").timestamp()),
    }
    assert list(events[0]) == ["event_name", "identifier", "payload", "timestamp"]
    # Without a Stripe id the customer's own id is sent.
    assert events[-1]["payload"] == {"stripe_customer_id": "globex", "value": "2"}
    assert events[-1]["timestamp"] == 1796083199  # 2026-11-30T23:59:59Z
    identifiers = [e["identifier"] for e in events]
    assert len(set(identifiers)) == len(events)
    assert all(i.startswith("costline-") and len(i) == len("costline-") + 32 for i in identifiers)


def test_parquet_export_is_byte_identical_and_readable_by_clickhouse(client: Client, tmp_path: Path) -> None:
    out = tmp_path / "usage.parquet"

    assert export(client, NOVEMBER, "parquet", out) == 6

    data = out.read_bytes()
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"
    back = client.query(
        "SELECT customer_id, meter, toString(day), value, unit, period FROM parquet_file",
        external_data=ExternalData(
            data=data, file_name="parquet_file", fmt="Parquet", structure=USAGE.structure
        ),
    ).result_rows
    assert [(c, m, d, plain(v), u) for c, m, d, v, u, _ in back] == NOVEMBER_USAGE
    assert {p for *_, p in back} == {"2026-11"}


def test_a_month_without_usage_exports_only_a_header(client: Client, tmp_path: Path) -> None:
    out = tmp_path / "usage.csv"

    assert export(client, Period.parse("2027-02"), "csv", out) == 0

    assert out.read_text() == "period,customer_id,meter,day,value,unit\n"
    empty = tmp_path / "usage.jsonl"
    assert export(client, Period.parse("2027-02"), "jsonl", empty) == 0
    assert empty.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["usage.csv", "usage.jsonl"]


INVOICE_HEAD = ["invoice_id", "customer_id", "period", "currency", "subtotal", "credits_applied", "total",
                "rounding", "finalized_at"]  # fmt: skip


@pytest.fixture(scope="module")
def finalized(client: Client) -> None:
    """acme's November invoice is final; globex's lines were written by a finalize that never finished."""
    d = Decimal
    client.insert(
        "invoice_lines",
        [
            ["INV-acme-2026-11", "acme", "2026-11", 1, "fee", "platform_fee", "Platform fee", "",
             d(1), d(0), d(1), d("99"), "", d("99"), d("99.00"), ""],
            ["INV-acme-2026-11", "acme", "2026-11", 2, "usage:llm_tokens", "usage", "LLM tokens",
             "llm_tokens", d("12500"), d("10000"), d("2500"), d("0.00002"), "", d("0.05"), d("0.05"), ""],
            ["INV-acme-2026-11", "acme", "2026-11", 3, "usage:spend", "adjustment",
             "Adjustment for 2026-10: spend", "spend", d("-0.5"), d(0), d(0), None, "", d("-1.25"),
             d("-1.25"), "2026-10"],
            ["INV-globex-2026-11", "globex", "2026-11", 1, "fee", "platform_fee", "Platform fee", "",
             d(1), d(0), d(1), d("49"), "", d("49"), d("49.00"), ""],
        ],
        column_names=LINE_COLUMNS,
    )  # fmt: skip
    client.insert(
        "invoices",
        [["INV-acme-2026-11", "acme", "2026-11", "USD", d("97.80"), d(0), d("97.80"), "half_even",
          at("2026-12-01T09:00:00")]],
        column_names=INVOICE_HEAD,
    )  # fmt: skip


@pytest.mark.usefixtures("finalized")
def test_invoice_lines_of_a_finalized_invoice_export_exactly(client: Client, tmp_path: Path) -> None:
    out = tmp_path / "lines.csv"

    assert export(client, NOVEMBER, "csv", out, data="invoice_lines") == 3

    rows = read_csv(out)
    assert list(rows[0]) == INVOICE_LINES.names
    assert rows[1] == {
        "invoice_id": "INV-acme-2026-11",
        "customer_id": "acme",
        "period": "2026-11",
        "line_no": "2",
        "kind": "usage",
        "description": "LLM tokens",
        "meter": "llm_tokens",
        "quantity": "12500",
        "included": "10000",
        "billable": "2500",
        "unit_price": "0.00002",
        "amount": "0.05",
        "adjusts_period": "",
    }
    assert [(r["line_no"], r["amount"], r["unit_price"], r["adjusts_period"]) for r in rows] == [
        ("1", "99", "99", ""),
        ("2", "0.05", "0.00002", ""),
        ("3", "-1.25", "", "2026-10"),
    ]


@pytest.mark.usefixtures("finalized")
def test_invoice_lines_as_jsonl_keep_null_unit_prices(client: Client, tmp_path: Path) -> None:
    out = tmp_path / "lines.jsonl"

    export(client, NOVEMBER, "jsonl", out, data="invoice_lines")

    last = read_jsonl(out)[-1]
    assert last["line_no"] == 3
    assert last["unit_price"] is None
    assert last["quantity"] == "-0.5"
    assert last["amount"] == "-1.25"


@pytest.mark.usefixtures("finalized")
def test_invoice_lines_as_parquet_keep_exact_decimals(client: Client, tmp_path: Path) -> None:
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"

    export(client, NOVEMBER, "parquet", first, data="invoice_lines")
    export(client, NOVEMBER, "parquet", second, data="invoice_lines")

    assert first.read_bytes() == second.read_bytes()
    back = client.query(
        "SELECT line_no, unit_price, amount FROM lines_file",
        external_data=ExternalData(
            data=first.read_bytes(), file_name="lines_file", fmt="Parquet", structure=INVOICE_LINES.structure
        ),
    ).result_rows
    assert back == [(1, Decimal("99"), Decimal("99")), (2, Decimal("0.00002"), Decimal("0.05")),
                    (3, None, Decimal("-1.25"))]  # fmt: skip


def test_stripe_refuses_invoice_lines(client: Client, tmp_path: Path) -> None:
    with pytest.raises(BillingError, match="usage only"):
        export(client, NOVEMBER, "stripe", tmp_path / "x", data="invoice_lines")
    assert not list(tmp_path.iterdir())


def test_the_cli_entry_point_reports_what_it_wrote(
    settings: Settings, client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nested" / "usage.jsonl"

    assert run_command(settings, "export", "--period", "2026-11", "--format", "jsonl", "--out", str(out)) == 0

    assert capsys.readouterr().out == f"exported 6 rows to {out}\n"
    assert len(read_jsonl(out)) == 6


def test_the_cli_entry_point_replaces_a_file_only_with_force(
    settings: Settings, client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "usage.jsonl"
    out.write_text("an older export\n")
    argv = ["export", "--period", "2026-11", "--format", "jsonl", "--out", str(out)]

    with pytest.raises(FileExistsError):
        run_command(settings, *argv)
    assert out.read_text() == "an older export\n"

    assert run_command(settings, *argv, "--force") == 0
    assert len(read_jsonl(out)) == 6


def test_the_cli_entry_point_refuses_an_unknown_format(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        run_command(
            settings, "export", "--period", "2026-11", "--format", "xlsx", "--out", str(tmp_path / "x")
        )
    assert refused.value.code == 2
    assert "'csv', 'parquet', 'jsonl', 'stripe'" in capsys.readouterr().err


def test_an_unknown_format_is_refused_before_anything_is_written(client: Client, tmp_path: Path) -> None:
    with pytest.raises(BillingError, match="csv, parquet, jsonl, stripe"):
        export(client, NOVEMBER, "xlsx", tmp_path / "x")  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())
