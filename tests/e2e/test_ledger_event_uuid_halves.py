"""A UUID event id kept as two halves (sql/ddl/018_ledger_event_uuid_halves.sql) on the real ClickHouse:
every id comes back exactly as sent, a time-ordered (v7) id keeps only its random bits, an event
written twice is one row, and a ledger migrated with rows in it keeps every row and daily value."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from costline.clickhouse import open_client
from costline.config import Settings
from costline.event_id import new_event_id
from costline.migrations import migrate
from tests.e2e.migration_steps import MigrateOnly, since_025

AT = datetime(2026, 11, 20, 12, 0, 0, 250_000, tzinfo=UTC)
V7 = new_event_id(AT, random.Random(1))
V7_MADE_EARLIER = new_event_id(AT - timedelta(seconds=3), random.Random(2))
V4 = "0b7e1f3c-5d2a-4f6e-9a1b-2c3d4e5f6a7b"
UPPER = V4.upper()
PLAIN = "req-81f3"
EVERY_KIND = [V7, V7_MADE_EARLIER, V4, UPPER, PLAIN]
COLUMNS = ["event_id_sent", "occurred_at", "customer_id", "agent_id", "user_id", "kind", "sku", "cost",
           "source_partition", "source_offset", "ingested_at_sent"]  # fmt: skip
# A writer's names before 023 (since, ingested_at is an ALIAS of a stored lag; writers name ingested_at_sent).
COLUMNS_BEFORE_023 = [*COLUMNS[:-1], "ingested_at"]


def rows(ids: list[str], offset: int = 0) -> list[list[Any]]:
    """One tool call of acme's per id, at AT, each at its own Kafka position from ``offset``."""
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
    ]


def test_every_id_comes_back_as_sent_and_a_v7_id_keeps_only_its_random_high_bits(database: Settings) -> None:
    migrate(database, log=lambda _: None)
    client = open_client(database)
    client.insert("ledger", rows(EVERY_KIND), column_names=since_025(COLUMNS))
    stored = client.query(
        "SELECT event_id, toString(event_uuid), event_uuid_high FROM ledger FINAL"
    ).result_rows
    by_id = {event_id: (uuid, high) for event_id, uuid, high in stored}
    assert sorted(by_id) == sorted(EVERY_KIND)
    assert (
        by_id[V7][0] == V7
        and by_id[UPPER][0] == V4
        and by_id[PLAIN][0] == "00000000-0000-0000-0000-000000000000"
    )
    assert 0x7000 <= by_id[V7][1] <= 0x7FFF  # the millisecond is occurred_at's: version and rand_a are left
    assert by_id[V7_MADE_EARLIER][1] == (-3000 << 16) + (by_id[V7_MADE_EARLIER][1] & 0xFFFF)
    counted = client.query("SELECT event_id FROM event_ids FINAL").result_rows
    assert sorted(r[0] for r in counted) == sorted(EVERY_KIND)


def test_the_same_event_written_twice_is_one_row(database: Settings) -> None:
    migrate(database, log=lambda _: None)
    client = open_client(database)
    client.insert("ledger", rows([V7, V4]), column_names=since_025(COLUMNS))
    client.insert("ledger", rows([V7, V4]), column_names=since_025(COLUMNS))  # a batch replayed after a crash
    client.command("OPTIMIZE TABLE ledger FINAL")
    assert client.query("SELECT count(), sum(cost) FROM ledger").result_rows == [(2, Decimal("0.02"))]


def test_a_ledger_with_rows_is_migrated_and_keeps_every_row_id_and_daily_value(
    database: Settings, migrate_only: MigrateOnly
) -> None:
    migrate_only(database, lambda p: p.name < "018_")  # a database at 017
    client = open_client(database)
    client.insert("ledger", rows(EVERY_KIND), column_names=COLUMNS_BEFORE_023)
    daily = "SELECT sum(events), sum(cost), uniqExactIfMerge(user_ids) FROM meter_days"
    assert client.query(daily).result_rows == [(5, Decimal("0.05"), 2)]

    applied = migrate(database, log=lambda _: None)
    assert "018_ledger_event_uuid_halves.sql" in [name.rsplit("/", 1)[-1] for name in applied]
    ids = client.query("SELECT event_id, cost FROM ledger FINAL").result_rows
    assert sorted(ids) == sorted((event_id, Decimal("0.01")) for event_id in EVERY_KIND)
    assert client.query(daily).result_rows == [(5, Decimal("0.05"), 2)]

    # The views follow the new table: a row written now is counted once, everywhere.
    client.insert("ledger", rows([new_event_id(AT)], offset=10), column_names=since_025(COLUMNS))
    assert client.query(daily).result_rows == [(6, Decimal("0.06"), 2)]
    assert client.query("SELECT count() FROM event_ids FINAL").result_rows == [(6,)]
    assert "ledger_018" not in {r[0] for r in client.query("SHOW TABLES").result_rows}
