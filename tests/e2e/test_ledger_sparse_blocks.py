"""Migration 024 (sql/ddl/024_ledger_sparse_blocks.sql) on the real ClickHouse: a ledger with rows keeps
every row, sum and daily value and its sorting key; token counts of every size come back exact from a
part that keeps them sparse, and a part of model calls alone keeps them as before."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from costline.clickhouse import open_client
from costline.config import Settings
from costline.migrations import migrate
from tests.e2e.migration_steps import MigrateOnly, since_025

OCTOBER = datetime(2026, 10, 20, 12, 0, 0, 250_000, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 20, 12, 0, 0, 250_000, tzinfo=UTC)
TOKENS = ["input_tokens", "cached_input_tokens", "output_tokens"]
COLUMNS = ["event_id_sent", "occurred_at", "customer_id", "agent_id", "kind", "sku", "quantity", "cost",
           *TOKENS, "source_partition", "source_offset", "ingested_at_sent"]  # fmt: skip
LARGEST = 2**64 - 1
EVERY_ROW = (
    "SELECT event_id, occurred_at, kind, quantity, cost, input_tokens, cached_input_tokens, output_tokens, "
    "source_offset, ingested_at FROM ledger FINAL ORDER BY event_id"
)
DAILY = "SELECT sum(events), sum(cost) FROM meter_days"
SORTING_KEY = "SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = 'ledger'"
SETTINGS = "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'ledger'"
SERIALIZATION = (
    "SELECT partition, column, serialization_kind FROM system.parts_columns "
    "WHERE database = currentDatabase() AND table = 'ledger' AND active AND column IN {columns:Array(String)}"
)


def rows(count: int, at: datetime, offset: int = 0, every_model_call: int = 12) -> list[list[Any]]:
    """acme's events at their own Kafka positions from ``offset``: a model call with tokens every
    ``every_model_call`` events (the n-th's counts rise by n, the first's at UInt64's largest), tool
    calls with none between."""
    made = []
    for n in range(count):
        position = offset + n
        if n % every_model_call == 0:
            counts = [LARGEST, LARGEST, LARGEST] if n == 0 else [500 + n, n // 2, 50 + n]
            kind, sku, quantity, cost = "llm", "openai/gpt-4o", Decimal(700 + n), Decimal("0.0025") * n
        else:
            counts = [0, 0, 0]
            kind, sku, quantity, cost = "tool", "tavily-search", Decimal(1), Decimal("0.01")
        made.append([f"e-{position}", at, "acme", "bot", kind, sku, quantity, cost, *counts, 0, position, at])
    return made


def test_a_ledger_with_rows_is_migrated_and_keeps_every_row_sum_daily_value_and_its_key(
    database: Settings, migrate_only: MigrateOnly
) -> None:
    migrate_only(database, lambda ddl: ddl.name < "024_")  # a database at 023
    client = open_client(database)
    client.insert("ledger", rows(600, NOVEMBER), column_names=COLUMNS)
    client.insert("ledger", rows(600, NOVEMBER, offset=1_000), column_names=COLUMNS)  # two parts
    before, daily = client.query(EVERY_ROW).result_rows, client.query(DAILY).result_rows
    key = client.query(SORTING_KEY).result_rows

    assert "024_ledger_sparse_blocks.sql" in migrate(database, log=lambda _: None)
    settings = client.query(SETTINGS).result_rows[0][0]
    assert "ratio_of_defaults_for_sparse_serialization = 0.5" in settings
    assert "min_compress_block_size = 262144" in settings
    assert client.query(SORTING_KEY).result_rows == key
    client.command("OPTIMIZE TABLE ledger FINAL")  # both parts merged into one with the new settings
    assert client.query(EVERY_ROW).result_rows == before
    assert client.query(DAILY).result_rows == daily


def test_token_counts_come_back_exact_from_sparse_parts_and_model_calls_alone_stay_dense(
    database: Settings,
) -> None:
    migrate(database, log=lambda _: None)
    client = open_client(database)
    # Wide parts, as every part of a real ledger is, so each column is written with its serialization.
    client.command("ALTER TABLE ledger MODIFY SETTING min_bytes_for_wide_part = 0")
    october, november = rows(1_200, OCTOBER), rows(300, NOVEMBER, offset=5_000, every_model_call=1)
    client.insert("ledger", october, column_names=since_025(COLUMNS))  # 1 model call in 12
    client.insert("ledger", november, column_names=since_025(COLUMNS))  # model calls alone
    client.command("OPTIMIZE TABLE ledger FINAL")

    stored = client.query(f"SELECT event_id, {', '.join(TOKENS)} FROM ledger FINAL ORDER BY event_id")
    assert stored.result_rows == sorted((row[0], *row[8:11]) for row in october + november)
    kinds = client.query(SERIALIZATION, parameters={"columns": TOKENS}).result_rows
    sparse = [("202610", column, "Sparse") for column in TOKENS]  # 11 in 12 counts are 0
    dense = [("202611", column, "Default") for column in TOKENS]
    assert sorted(kinds) == sorted(sparse + dense)
