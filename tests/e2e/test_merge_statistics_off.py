"""Migration 026 (sql/ddl/026_merge_statistics_off.sql) on the real ClickHouse: the tables the worker
writes stop building column statistics when parts merge, and a ledger with rows keeps every row and
daily value through the migration and a merge."""

from __future__ import annotations

from costline.clickhouse import open_client
from costline.config import Settings
from costline.migrations import migrate
from tests.e2e.migration_steps import MigrateOnly, since_025
from tests.e2e.test_ledger_sparse_blocks import COLUMNS, DAILY, EVERY_ROW, NOVEMBER, rows

WORKER_TABLES = ("ledger", "event_ids", "meter_days", "ledger_inserts", "cost_windows")
ENGINES = (
    "SELECT name, engine_full FROM system.tables "
    "WHERE database = currentDatabase() AND name IN {names:Array(String)}"
)
STATISTICS = (
    "SELECT DISTINCT table, statistics FROM system.parts_columns "
    "WHERE database = currentDatabase() AND active AND level > 0 AND table IN {names:Array(String)}"
)


def test_merges_of_the_worker_tables_build_no_statistics_and_every_row_stays(
    database: Settings, migrate_only: MigrateOnly
) -> None:
    migrate_only(database, lambda ddl: ddl.name < "026_")  # a database at 025
    client = open_client(database)
    written = since_025(COLUMNS)
    client.insert("ledger", rows(600, NOVEMBER), column_names=written)
    client.insert("ledger", rows(600, NOVEMBER, offset=1_000), column_names=written)  # two parts
    before, daily = client.query(EVERY_ROW).result_rows, client.query(DAILY).result_rows

    assert "026_merge_statistics_off.sql" in migrate(database, log=lambda _: None)
    described = client.query(ENGINES, parameters={"names": list(WORKER_TABLES)}).result_rows
    engines: dict[str, str] = {name: engine for name, engine in described}
    assert sorted(engines) == sorted(WORKER_TABLES)
    assert all("materialize_statistics_on_merge = 0" in engine for engine in engines.values())
    merged_tables = ["event_ids", "ledger", "ledger_inserts", "meter_days"]  # the ledger's rows feed them
    for table in merged_tables:
        client.command(f"OPTIMIZE TABLE {table} FINAL")  # both inserts' parts merged into one
    merged = client.query(STATISTICS, parameters={"names": list(WORKER_TABLES)}).result_rows
    assert sorted((table, list(kinds)) for table, kinds in merged) == [(table, []) for table in merged_tables]
    assert client.query(EVERY_ROW).result_rows == before
    assert client.query(DAILY).result_rows == daily
