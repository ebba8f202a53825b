"""The ledger's layout (sql/ddl/015_ledger_layout.sql, 017_meter_days_granules.sql) on the real
ClickHouse: ids come back exactly as sent, and a database migrated with data in it keeps every row,
id and daily value."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from costline.clickhouse import open_client
from costline.config import Settings
from costline.migrations import migrate
from tests.e2e.migration_steps import MigrateOnly, since_025

CANONICAL = "0b7e1f3c-5d2a-4f6e-9a1b-2c3d4e5f6a7b"
UPPER = CANONICAL.upper()
PLAIN = "bench-1-2"
AT = datetime(2026, 11, 20, 12, tzinfo=UTC)


def rows(
    id_column: str, ids: list[str], offset: int = 0, time_column: str = "ingested_at_sent"
) -> tuple[list[list[Any]], list[str]]:
    """``time_column``: ingested_at until 023 kept the time as a lag (writers name ingested_at_sent since)."""
    columns = [id_column, "occurred_at", "customer_id", "agent_id", "user_id", "kind", "sku", "cost",
               "source_partition", "source_offset", time_column]  # fmt: skip
    return [
        [
            event_id,
            AT,
            "acme",
            "bot",
            f"user-{n % 2}",
            "tool",
            "tavily-search",
            Decimal("0.01"),
            0,
            offset + n,
            AT,
        ]
        for n, event_id in enumerate(ids)
    ], columns


def test_an_id_comes_back_exactly_as_sent_and_a_uuid_is_kept_in_16_bytes(database: Settings) -> None:
    migrate(database, log=lambda _: None)
    client = open_client(database)
    written, columns = rows("event_id_sent", [CANONICAL, UPPER, PLAIN, PLAIN])
    client.insert("ledger", written, column_names=since_025(columns))
    stored = client.query("SELECT event_id, event_uuid, event_id_other FROM ledger FINAL ORDER BY event_id")
    assert [(r[0], str(r[1]), r[2]) for r in stored.result_rows] == [
        (UPPER, CANONICAL, UPPER),  # the same UUID, kept apart from its lower-case twin
        (CANONICAL, CANONICAL, ""),
        (PLAIN, "00000000-0000-0000-0000-000000000000", PLAIN),
    ]
    counted = client.query("SELECT event_id FROM event_ids FINAL ORDER BY event_id").result_rows
    assert [r[0] for r in counted] == [UPPER, CANONICAL, PLAIN, PLAIN]  # two positions of PLAIN


def test_a_ledger_with_rows_is_laid_out_again_and_keeps_every_row_id_and_daily_value(
    database: Settings, migrate_only: MigrateOnly
) -> None:
    # A database as it was before this layout: 016 applied, 015 and every later one not.
    migrate_only(database, lambda p: p.name < "015_" or p.name.startswith("016_"))
    client = open_client(database)
    written, columns = rows("event_id", [CANONICAL, UPPER, PLAIN], time_column="ingested_at")
    client.insert("ledger", written, column_names=columns)
    daily = "SELECT sum(events), sum(cost), uniqExactIfMerge(user_ids) FROM meter_days"
    assert client.query(daily).result_rows == [(3, Decimal("0.03"), 2)]

    applied = migrate(database, log=lambda _: None)
    assert [Path(name).name[:3] for name in applied][:3] == ["015", "017", "018"]
    ids = client.query("SELECT event_id, cost FROM ledger FINAL ORDER BY event_id").result_rows
    assert ids == [(UPPER, Decimal("0.01")), (CANONICAL, Decimal("0.01")), (PLAIN, Decimal("0.01"))]
    assert client.query(daily).result_rows == [(3, Decimal("0.03"), 2)]

    # The views follow the new tables: a row written now is counted once, everywhere.
    later, columns = rows("event_id_sent", ["after-1"], offset=10)
    client.insert("ledger", later, column_names=since_025(columns))
    assert client.query(daily).result_rows == [(4, Decimal("0.04"), 2)]
    assert client.query("SELECT count() FROM event_ids FINAL").result_rows == [(4,)]
    tables = {r[0] for r in client.query("SHOW TABLES").result_rows}
    assert not tables & {"ledger_015", "meter_days_017", "ledger_018"}
