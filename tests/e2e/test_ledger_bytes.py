"""Migration 019 (sql/ddl/019_ledger_bytes.sql) on the real ClickHouse: a ledger with rows keeps every
row, sum and daily value, its end users are kept as LowCardinality, and the sink still writes the
ledger as its own Native blocks."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from costline.clickhouse import open_async_client, open_client
from costline.config import Settings
from costline.migrations import migrate
from schemas.prices import load_price_dir
from streams.aggregation import position
from streams.pricing import PriceCatalog
from streams.sinks.clickhouse_sink import ClickHouseSink
from tests.e2e.migration_steps import MigrateOnly, since_025
from tests.factories import PRICES, event

AT = datetime(2026, 11, 20, 12, 0, 0, 250_000, tzinfo=UTC)
COLUMNS = [
    "event_id_sent",
    "occurred_at",
    "customer_id",
    "agent_id",
    "user_id",
    "kind",
    "sku",
    "cost",
    "source_partition",
    "source_offset",
    "ingested_at_sent",
]
# A writer's names before 023 (since, ingested_at is an ALIAS of a stored lag; writers name ingested_at_sent).
COLUMNS_BEFORE_023 = [*COLUMNS[:-1], "ingested_at"]
EVERY_ROW = "SELECT event_id, user_id, cost, ingested_at FROM ledger FINAL ORDER BY event_id"
DAILY = "SELECT sum(events), sum(cost), uniqExactIfMerge(user_ids) FROM meter_days"


def rows(count: int, offset: int = 0) -> list[list[Any]]:
    """acme's tool calls, every third without an end user, each at its own Kafka position."""
    return [
        [
            f"e-{offset + n}",
            AT,
            "acme",
            "bot",
            f"user-{n % 3}" if n % 3 else "",
            "tool",
            "tavily-search",
            Decimal("0.000000000001") * (n + 1),
            0,
            offset + n,
            AT,
        ]
        for n in range(count)
    ]


def test_a_ledger_with_rows_is_migrated_and_keeps_every_row_sum_and_daily_value(
    database: Settings, migrate_only: MigrateOnly
) -> None:
    migrate_only(database, lambda p: p.name < "019_")  # a database at 018
    client = open_client(database)
    client.insert("ledger", rows(30), column_names=COLUMNS_BEFORE_023)
    client.insert("ledger", rows(30, offset=1_000), column_names=COLUMNS_BEFORE_023)  # two parts
    before, daily = client.query(EVERY_ROW).result_rows, client.query(DAILY).result_rows
    assert daily == [(60, Decimal("0.000000000930"), 2)]

    assert "019_ledger_bytes.sql" in migrate(database, log=lambda _: None)
    types = dict(
        client.query(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'ledger'"
        ).result_rows
    )
    assert types["user_id"] == "LowCardinality(String)"
    assert client.query(EVERY_ROW).result_rows == before
    pending = "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND NOT is_done"
    assert client.query(pending).result_rows == [(0,)]  # the migration waited for its rewrite

    # The views still add up a row written now: one more event, one more user.
    client.insert(
        "ledger",
        [[*rows(1, offset=2_000)[0][:4], "user-new", *rows(1)[0][5:]]],
        column_names=since_025(COLUMNS),
    )
    assert client.query(DAILY).result_rows == [(61, Decimal("0.000000000931"), 3)]


def test_the_sink_writes_the_migrated_ledger_natively(
    database: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    migrate(database, log=lambda _: None)
    prices = PriceCatalog(load_price_dir(PRICES))
    sent = [event(f"u-{n}", user_id=f"user-{n % 2}") for n in range(4)] + [event("nobody")]
    counted = [(0, position(n, 0), prices.price(e)) for n, e in enumerate(sent)]

    async def write() -> None:
        client = await open_async_client(database)
        await ClickHouseSink(client).write_ledger(counted, AT)
        await client.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(write())
    assert "other column types" not in caplog.text
    stored = open_client(database).query("SELECT event_id, user_id FROM ledger ORDER BY event_id").result_rows
    assert stored == sorted((e.event_id, e.user_id or "") for e in sent)
