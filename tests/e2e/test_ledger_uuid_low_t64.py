"""Migration 022 (sql/ddl/022_ledger_uuid_low_t64.sql) on the real ClickHouse: a ledger with rows keeps
every row, id and daily value, the low half keeps its DEFAULT and its place in the sorting key, and
ids of every kind come back exactly as sent from parts written with the new codec."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from costline.clickhouse import open_client
from costline.config import Settings
from costline.event_id import new_event_id
from costline.migrations import migrate
from tests.e2e.migration_steps import MigrateOnly, since_025

AT = datetime(2026, 11, 20, 12, 0, 0, 250_000, tzinfo=UTC)
COLUMNS = ["event_id_sent", "occurred_at", "customer_id", "agent_id", "kind", "sku", "cost",
           "source_partition", "source_offset", "ingested_at_sent"]  # fmt: skip
# A writer's names before 023 (since, ingested_at is an ALIAS of a stored lag; writers name ingested_at_sent).
COLUMNS_BEFORE_023 = [*COLUMNS[:-1], "ingested_at"]
# A low half of every extreme (all bits clear, all set, the variant alone) beside v7, v4 and other ids.
EDGES = [
    "00000000-0000-7000-0000-000000000000",
    "ffffffff-ffff-7fff-ffff-ffffffffffff",
    "01937a2b-3c4d-7e5f-8000-000000000000",
    "0b7e1f3c-5d2a-4f6e-9a1b-2c3d4e5f6a7b",
    "0B7E1F3C-5D2A-4F6E-9A1B-2C3D4E5F6A7B",
    "req-81f3",
]
SORTING_KEY = "SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = 'ledger'"
EVERY_ROW = "SELECT event_id, event_uuid, source_offset FROM ledger FINAL ORDER BY source_offset"
DAILY = "SELECT sum(events), sum(cost) FROM meter_days"


def v7_ids(count: int, seed: int) -> list[str]:
    generator = random.Random(seed)
    return [new_event_id(AT, generator) for _ in range(count)]


def rows(ids: list[str], offset: int = 0) -> list[list[Any]]:
    """acme's tool calls, one per id, each at its own Kafka position from ``offset``."""
    return [
        [event_id, AT, "acme", "bot", "tool", "tavily-search", Decimal("0.01"), 0, offset + n, AT]
        for n, event_id in enumerate(ids)
    ]


def codecs(client: Any) -> dict[str, str]:
    return dict(
        client.query(
            "SELECT name, compression_codec FROM system.columns "
            "WHERE database = currentDatabase() AND table = 'ledger'"
        ).result_rows
    )


def test_a_ledger_with_rows_is_migrated_and_keeps_every_row_id_and_daily_value(
    database: Settings, migrate_only: MigrateOnly
) -> None:
    migrate_only(database, lambda ddl: ddl.name < "022_")  # a database at 021
    client = open_client(database)
    client.insert("ledger", rows(EDGES + v7_ids(50, 1)), column_names=COLUMNS_BEFORE_023)
    client.insert("ledger", rows(v7_ids(50, 2), offset=1_000), column_names=COLUMNS_BEFORE_023)  # two parts
    before, daily = client.query(EVERY_ROW).result_rows, client.query(DAILY).result_rows
    key = client.query(SORTING_KEY).result_rows

    assert "022_ledger_uuid_low_t64.sql" in migrate(database, log=lambda _: None)
    assert codecs(client)["event_uuid_low"] == "CODEC(T64, ZSTD(1))"
    assert client.query(SORTING_KEY).result_rows == key
    client.command("OPTIMIZE TABLE ledger FINAL")  # both parts rewritten with the new codec
    assert client.query(EVERY_ROW).result_rows == before
    assert client.query(DAILY).result_rows == daily


def test_ids_come_back_as_sent_from_the_new_codec_and_a_repeat_is_still_one_row(database: Settings) -> None:
    migrate(database, log=lambda _: None)
    client = open_client(database)
    # Wide parts, as every part of a real ledger is, so the column is compressed with its codec.
    client.command("ALTER TABLE ledger MODIFY SETTING min_bytes_for_wide_part = 0")
    ids = EDGES + v7_ids(1_000, 3)
    client.insert("ledger", rows(ids), column_names=since_025(COLUMNS))
    client.insert("ledger", rows(ids[:10]), column_names=since_025(COLUMNS))  # the same events written again
    client.command("OPTIMIZE TABLE ledger FINAL")
    stored = [event_id for event_id, _, _ in client.query(EVERY_ROW).result_rows]
    assert stored == ids
