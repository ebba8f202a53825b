"""The ingestion time kept as a lag after occurred_at (sql/ddl/023_ledger_ingested_lag.sql) on the real
ClickHouse: a ledger with rows is migrated and keeps every row, id, ingestion time, daily value and
view output; a time written since, by the sink's Native blocks or through clickhouse-connect, reads
back exactly however far it is from occurred_at; and a read by ingestion time still skips granules
by the minmax index."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from costline.clickhouse import open_async_client, open_client, read_query
from costline.config import Settings
from costline.migrations import migrate
from schemas.prices import load_price_dir
from streams.aggregation import position
from streams.pricing import PriceCatalog
from streams.sinks.clickhouse_sink import ClickHouseSink
from tests.e2e.migration_steps import MigrateOnly, since_025
from tests.factories import NINE_AM, PRICES, event

AT = datetime(2026, 11, 20, 12, 0, 0, 250_999, tzinfo=UTC)  # 999 microseconds past its millisecond
AT_MS = AT.replace(microsecond=250_000)
# Ingestion times as lags from occurred_at's millisecond: none, a clock 1 ms and 5 s ahead, a batch
# a second late, and a backfill 90 days late (past 2^31 ms, 24.8 days, where an Int32 would wrap).
LAGS = [
    timedelta(0),
    timedelta(milliseconds=-1),
    timedelta(seconds=-5),
    timedelta(milliseconds=1_234),
    timedelta(days=90, milliseconds=7),
]
COLUMNS = ["event_id_sent", "occurred_at", "customer_id", "agent_id", "user_id", "kind", "sku", "cost",
           "source_partition", "source_offset", "ingested_at_sent"]  # fmt: skip
# A writer's names before 023 (since, ingested_at is an ALIAS of a stored lag; writers name ingested_at_sent).
COLUMNS_BEFORE_023 = [*COLUMNS[:-1], "ingested_at"]
DAILY = (
    "SELECT customer_id, day, kind, sum(events), sum(cost), uniqExactIfMerge(user_ids) FROM meter_days "
    "GROUP BY customer_id, day, kind ORDER BY customer_id, day, kind"
)
INSERTS = "SELECT * FROM ledger_inserts ORDER BY customer_id, day, source_partition, first_position"
# A row written with no time is counted at 1970-01-01, whose part event_ids' TTL may drop at any time.
COUNTED = (
    "SELECT customer_id, event_id, occurred_at, source_partition, source_offset, source_index, ingested_at "
    "FROM event_ids FINAL WHERE ingested_at > '2000-01-01' ORDER BY source_offset"
)


def rows(lags: list[timedelta], offset: int = 0) -> list[list[Any]]:
    """acme's tool calls at AT, one per lag, ingested that long after AT's millisecond."""
    return [
        [
            f"e-{offset + n}",
            AT,
            "acme",
            "bot",
            f"user-{n % 2}",
            "tool",
            "tavily-search",
            Decimal("0.01"),
            0,
            offset + n,
            AT_MS + lag,
        ]
        for n, lag in enumerate(lags)
    ]


def millis(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def readable_columns(client: Client) -> list[str]:
    """The ledger's columns a reader can name (stored and ALIAS), in table order."""
    return [
        name
        for name, kind in client.query(
            "SELECT name, default_kind FROM system.columns "
            "WHERE database = currentDatabase() AND table = 'ledger' ORDER BY position"
        ).result_rows
        if kind != "EPHEMERAL"  # written, never read
    ]


def views(client: Client) -> list[Any]:
    hashes = read_query("event_id_hashes")
    since = millis(AT - timedelta(days=1))
    return [
        client.query(DAILY).result_rows,
        client.query(INSERTS).result_rows,
        client.query(COUNTED).result_rows,
        sorted(client.query(hashes, parameters={"partition": 0, "since_ms": since}).result_rows),
    ]


def test_a_ledger_with_rows_is_migrated_and_keeps_every_row_time_daily_value_and_view(
    database: Settings, migrate_only: MigrateOnly
) -> None:
    migrate_only(database, lambda ddl: ddl.name < "023_")  # a database at 022
    client = open_client(database)
    client.insert("ledger", rows(LAGS), column_names=COLUMNS_BEFORE_023)
    client.insert("ledger", rows(LAGS[:2], offset=1_000), column_names=COLUMNS_BEFORE_023)  # two parts
    # A row whose writer named no time: ingested_at had no DEFAULT, so it held the epoch.
    untimed = [row[:-1] for row in rows([timedelta(0)], offset=2_000)]
    client.insert("ledger", untimed, column_names=COLUMNS[:-1])
    names = readable_columns(client)
    every_row = f"SELECT {', '.join(names)} FROM ledger FINAL ORDER BY source_offset"
    before, seen = client.query(every_row).result_rows, views(client)
    times = "SELECT toUnixTimestamp64Milli(ingested_at) FROM ledger ORDER BY source_offset"
    every_time = [(millis(AT_MS + lag),) for lag in [*LAGS, *LAGS[:2]]] + [(0,)]
    assert client.query(times).result_rows == every_time
    assert seen[0] == [("acme", AT.date(), "tool", 8, Decimal("0.08"), 2)]

    assert "023_ledger_ingested_lag.sql" in migrate(database, log=lambda _: None)
    assert client.query(every_row).result_rows == before
    assert client.query(times).result_rows == every_time
    assert views(client) == seen
    stored = dict(
        client.query(
            "SELECT name, default_kind FROM system.columns "
            "WHERE database = currentDatabase() AND table = 'ledger' AND name LIKE 'ingested%'"
        ).result_rows
    )
    assert stored == {"ingested_at_sent": "EPHEMERAL", "ingested_lag_ms": "DEFAULT", "ingested_at": "ALIAS"}
    assert "ledger_023" not in {r[0] for r in client.query("SHOW TABLES").result_rows}

    # The views follow the new table: a row written now is counted once, everywhere, at its time.
    client.insert("ledger", rows([LAGS[4]], offset=3_000), column_names=since_025(COLUMNS))
    assert client.query(DAILY).result_rows == [("acme", AT.date(), "tool", 9, Decimal("0.09"), 2)]
    counted = client.query(COUNTED).result_rows
    assert len(counted) == 8 and counted[-1][-1] == (AT_MS + LAGS[4]).replace(tzinfo=None)  # naive UTC


def test_a_time_written_with_no_name_is_the_epoch_as_before(database: Settings) -> None:
    migrate(database, log=lambda _: None)
    client = open_client(database)
    client.insert("ledger", [row[:-1] for row in rows([timedelta(0)])], column_names=since_025(COLUMNS[:-1]))
    assert client.query("SELECT ingested_at FROM ledger").result_rows == [(datetime(1970, 1, 1),)]


@pytest.mark.parametrize("native", [True, False], ids=["native-blocks", "clickhouse-connect"])
def test_the_sinks_time_reads_back_exactly_however_far_from_when_events_occurred(
    database: Settings, native: bool
) -> None:
    migrate(database, log=lambda _: None)
    prices = PriceCatalog(load_price_dir(PRICES))
    now = NINE_AM.replace(microsecond=123_000)
    # Occurred just now, in the future (a clock ahead), and 90 days before (a backfill).
    times = [NINE_AM.replace(microsecond=122_999), NINE_AM + timedelta(hours=1), NINE_AM - timedelta(days=90)]
    sent = [event(f"lag-{n}", at=at) for n, at in enumerate(times)]
    counted = [(0, position(n, 0), prices.price(e)) for n, e in enumerate(sent)]

    async def write() -> None:
        client = await open_async_client(database)
        await ClickHouseSink(client, native=native).write_ledger(counted, now)
        await client.close()

    asyncio.run(write())
    client = open_client(database)
    stored = client.query(
        "SELECT event_id, ingested_at, ingested_lag_ms FROM ledger ORDER BY event_id"
    ).result_rows
    naive = now.replace(tzinfo=None)  # clickhouse-connect reads a UTC time as naive
    assert [(event_id, at) for event_id, at, _ in stored] == [(e.event_id, naive) for e in sent]
    assert [lag for *_, lag in stored] == [1, -3_600_000 + 123, 90 * 86_400_000 + 123]
    counted_at = client.query("SELECT ingested_at FROM event_ids FINAL").result_rows
    assert counted_at == [(naive,)] * len(sent)


def skipped_granules(client: Client, query: str) -> str:
    """The "read/all" granules the ingested_at minmax index leaves ``query`` to read."""
    plan = "\n".join(r[0] for r in client.query(f"EXPLAIN indexes = 1 {query}").result_rows)
    found = re.search(r"Name: ingested_at_idx\n(?:.*\n)*?\s*Granules: (\d+/\d+)", plan)
    assert found, plan
    return found.group(1)


def test_a_read_of_recent_rows_by_ingestion_time_reads_as_few_granules_after_the_migration(
    database: Settings, migrate_only: MigrateOnly
) -> None:
    migrate_only(database, lambda ddl: ddl.name < "023_")  # a database at 022
    client = open_client(database)
    # 40,000 of acme's events a second apart, each ingested 1.5 s after it occurred: five granules.
    client.command(
        "INSERT INTO ledger (event_id_sent, occurred_at, customer_id, agent_id, kind, sku, cost, "
        "source_partition, source_offset, ingested_at) "
        "SELECT concat('e-', toString(number)), toDateTime64('2026-11-01 00:00:00', 6, 'UTC') + "
        "toIntervalSecond(number) AS at, 'acme', 'bot', 'tool', 'tavily-search', 0.01, 0, number, "
        "toDateTime64(at, 3, 'UTC') + toIntervalMillisecond(1500) FROM numbers(40000)"
    )
    recent = "SELECT count() FROM ledger WHERE ingested_at >= toDateTime64('2026-11-01 11:00:00', 3, 'UTC')"
    before, read_before = client.query(recent).result_rows, skipped_granules(client, recent)
    assert read_before == "1/5"

    migrate(database, log=lambda _: None)
    assert client.query(recent).result_rows == before == [(40_000 - 39_599,)]
    assert skipped_granules(client, recent) == read_before
