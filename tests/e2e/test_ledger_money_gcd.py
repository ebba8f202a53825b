"""Migration 020 (sql/ddl/020_ledger_money_gcd.sql) on the real ClickHouse: a ledger with rows keeps
every row, sum and daily value, and money and quantities of every size and sign come back exact from
parts written with the new codecs, whatever factors a block's values share."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from costline.clickhouse import open_client
from costline.config import Settings
from costline.migrations import migrate
from tests.e2e.migration_steps import MigrateOnly, since_025

AT = datetime(2026, 11, 20, 12, 0, 0, 250_000, tzinfo=UTC)
COLUMNS = ["event_id_sent", "occurred_at", "customer_id", "agent_id", "kind", "sku", "quantity", "cost",
           "source_partition", "source_offset", "ingested_at_sent"]  # fmt: skip
# A writer's names before 023 (since, ingested_at is an ALIAS of a stored lag; writers name ingested_at_sent).
COLUMNS_BEFORE_023 = [*COLUMNS[:-1], "ingested_at"]
# Whole, fractional to the pico, negative (corrections), zero, and Decimal(38, 12)'s largest.
LARGEST = Decimal("99999999999999999999999999.999999999999")
AMOUNTS = [
    Decimal("1500"),
    Decimal("0.000000000001"),
    Decimal("-0.0025"),
    Decimal("0"),
    Decimal("12.345678901234"),
    LARGEST,
    -LARGEST,
    Decimal("7000000000000"),
]
EVERY_ROW = "SELECT event_id, quantity, cost, source_offset FROM ledger FINAL ORDER BY event_id"
DAILY = "SELECT sum(events), sum(cost) FROM meter_days"


def rows(amounts: list[Decimal], offset: int = 0) -> list[list[Any]]:
    """acme's tool calls, each ``amount`` as both its quantity and its cost, at its own Kafka position."""
    return [
        [f"e-{offset + n}", AT, "acme", "bot", "tool", "tavily-search", amount, amount, 0, offset + n * 7, AT]
        for n, amount in enumerate(amounts)
    ]


def test_a_ledger_with_rows_is_migrated_and_keeps_every_row_sum_and_daily_value(
    database: Settings, migrate_only: MigrateOnly
) -> None:
    migrate_only(database, lambda p: p.name < "020_")  # a database at 019
    client = open_client(database)
    small = [a for a in AMOUNTS if abs(a) < 1_000_000]  # meter_days sums: no row near the largest
    client.insert("ledger", rows(small), column_names=COLUMNS_BEFORE_023)
    client.insert("ledger", rows(small, offset=1_000), column_names=COLUMNS_BEFORE_023)  # two parts
    before, daily = client.query(EVERY_ROW).result_rows, client.query(DAILY).result_rows

    # Up to 024: 025 keeps cost and quantity in other columns (sql/ddl/025_ledger_implied_columns.sql).
    migrate_only(database, lambda p: p.name < "025_")
    applied = client.query("SELECT name FROM schema_migrations FINAL").result_rows
    assert ("020_ledger_money_gcd.sql",) in applied
    codecs = dict(
        client.query(
            "SELECT name, compression_codec FROM system.columns "
            "WHERE database = currentDatabase() AND table = 'ledger'"
        ).result_rows
    )
    assert codecs["cost"] == codecs["quantity"] == "CODEC(GCD, ZSTD(1))"
    client.command("OPTIMIZE TABLE ledger FINAL")  # both parts rewritten with the new codecs
    assert client.query(EVERY_ROW).result_rows == before
    assert client.query(DAILY).result_rows == daily


@pytest.mark.parametrize(
    "amounts",
    [AMOUNTS, [Decimal(n) for n in range(1, 500)], [Decimal(n) / 1000 for n in range(-300, 300)]],
    ids=["every-size-and-sign", "whole-only", "thousandths-only"],
)
def test_money_and_quantities_come_back_exact_from_the_new_codecs(
    database: Settings, amounts: list[Decimal]
) -> None:
    migrate(database, log=lambda _: None)
    client = open_client(database)
    # Wide parts, as every part of a real ledger is, so each column is compressed with its codec.
    client.command("ALTER TABLE ledger MODIFY SETTING min_bytes_for_wide_part = 0")
    client.insert("ledger", rows(amounts), column_names=since_025(COLUMNS))
    client.command("OPTIMIZE TABLE ledger FINAL")
    stored = client.query(EVERY_ROW).result_rows
    assert sorted((q, c) for _, q, c, _ in stored) == sorted((a, a) for a in amounts)
    assert sorted(offset for *_, offset in stored) == [n * 7 for n in range(len(amounts))]
