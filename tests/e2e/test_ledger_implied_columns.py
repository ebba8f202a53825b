"""Migration 025 (sql/ddl/025_ledger_implied_columns.sql) on the real ClickHouse: the price's five columns
kept as one key, the quantity as what the tokens leave of it and the cost as Int64 picos. A ledger with rows
is migrated and keeps every row and view output; every value the types hold comes back exactly, written
by name or by the sink; readers see the same names and types; a price part holding the separator is
refused rather than split otherwise."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Context, Decimal, localcontext
from typing import Any

import clickhouse_connect.driver.exceptions as ch
import pytest
from clickhouse_connect.driver.client import Client

from costline.clickhouse import open_async_client, open_client
from costline.config import Settings
from costline.migrations import migrate
from schemas.prices import load_price_dir
from streams.aggregation import position
from streams.pricing import PriceCatalog
from streams.sinks.clickhouse_sink import ClickHouseSink
from tests.e2e.migration_steps import MigrateOnly, since_025
from tests.factories import NINE_AM, PRICES, event

AT = datetime(2026, 11, 20, 12, 0, 0, 250_000, tzinfo=UTC)
PRICE = ["kind", "provider", "sku", "unit", "price_version"]
COLUMNS = ["event_id_sent", "occurred_at", "customer_id", "agent_id", "user_id", *PRICE, "quantity",
           "input_tokens", "output_tokens", "cost", "source_partition", "source_offset",
           "ingested_at_sent"]  # fmt: skip
LARGEST = Decimal("99999999999999999999999999.999999999999")  # Decimal(38, 12)'s
INT64_PICOS = Decimal(2**63 - 1).scaleb(-12)  # the largest cost kept in cost_pico
# A kind, provider, SKU, unit, version, quantity, input and output tokens and cost a row: every kind of
# price, quantities with and without tokens, and costs either side of Int64's picos, up to the type's own.
VALUES: list[list[Any]] = [
    ["llm", "openai", "openai/gpt-4o", "tokens", "2024-10-01-list", Decimal(1_200), 1_000, 200,
     Decimal("0.0045")],
    ["llm", "anthropic", "anthropic/claude-sonnet-4", "tokens", "v2", Decimal(5), 2**64 - 1, 2**64 - 1,
     Decimal(0)],
    ["tool", "tools", "tavily-search", "calls", "2024-01-01-list", Decimal(3), 0, 0,
     Decimal("0.000000000001")],
    ["compute", "aws", "fargate-1vcpu-2gb", "seconds", "v1", Decimal("12.345678901234"), 0, 0, INT64_PICOS],
    ["storage", "aws", "s3-standard", "byte_seconds", "v1", Decimal(10**16 * 31_622_400), 0, 0,
     INT64_PICOS + Decimal("0.000000000001")],
    ["outcome", "", "ticket_resolved", "outcomes", "", Decimal(1), 0, 0,
     -INT64_PICOS - Decimal("0.000000000002")],
    ["embedding", "openai", "openai/text-embedding-3-small", "tokens", "v1", LARGEST, 0, 0, LARGEST],
    ["vector_query", "pinecone", "pinecone", "queries", "v1", Decimal(0), 7, 0, -LARGEST],
    ["", "", "", "", "", Decimal(0), 0, 0, Decimal(0)],
]  # fmt: skip
STORED = ["price_key", "quantity_rest", "cost_pico", "cost_over"]
READABLE = ", ".join([*PRICE, "quantity", "input_tokens", "output_tokens", "cost"])
DAILY = (
    "SELECT customer_id, day, kind, provider, sku, sum(events), sum(cost), sum(quantity) FROM meter_days "
    "GROUP BY customer_id, day, kind, provider, sku ORDER BY customer_id, day, kind, provider, sku"
)
INSERTS = "SELECT * FROM ledger_inserts ORDER BY customer_id, day, source_partition, first_position"
COUNTED = "SELECT customer_id, event_id, source_offset FROM event_ids FINAL ORDER BY source_offset"


def rows(values: list[list[Any]], offset: int = 0) -> list[list[Any]]:
    """acme's events at AT, one per item of ``values``, each at its own Kafka position from ``offset``."""
    return [
        [f"e-{offset + n}", AT, "acme", "bot", f"user-{n % 2}", *price, quantity, tokens_in, tokens_out, cost,
         0, offset + n, AT]
        for n, [*price, quantity, tokens_in, tokens_out, cost] in enumerate(values)
    ]  # fmt: skip


def readable_columns(client: Client) -> list[str]:
    """The ledger's columns a reader can name (stored and ALIAS), in table order."""
    return [
        name
        for name, kind in client.query(
            "SELECT name, default_kind FROM system.columns "
            "WHERE database = currentDatabase() AND table = 'ledger' ORDER BY position"
        ).result_rows
        if kind != "EPHEMERAL"
    ]


def views(client: Client) -> list[Any]:
    return [client.query(q).result_rows for q in (DAILY, INSERTS, COUNTED)]


def test_a_ledger_with_rows_is_migrated_and_keeps_every_row_daily_value_and_view(
    database: Settings, migrate_only: MigrateOnly
) -> None:
    migrate_only(database, lambda ddl: ddl.name < "025_")  # a database at 024
    client = open_client(database)
    client.insert("ledger", rows(VALUES), column_names=COLUMNS)
    client.insert("ledger", rows(VALUES[:3], offset=1_000), column_names=COLUMNS)  # two parts
    names = readable_columns(client)
    every_row = f"SELECT {', '.join(names)} FROM ledger FINAL ORDER BY source_offset"
    before, seen = client.query(every_row).result_rows, views(client)
    types = f"SELECT {', '.join(f'toTypeName({n})' for n in names)} FROM ledger LIMIT 1"
    types_before = client.query(types).result_rows

    assert "025_ledger_implied_columns.sql" in migrate(database, log=lambda _: None)
    assert set(names) <= set(readable_columns(client))
    assert client.query(every_row).result_rows == before
    assert client.query(types).result_rows == types_before
    assert views(client) == seen
    read, written, stored = [*PRICE, "quantity", "cost"], since_025([*PRICE, "quantity", "cost"]), STORED
    kinds = client.query(
        "SELECT name, default_kind FROM system.columns WHERE database = currentDatabase() "
        "AND table = 'ledger' AND name IN {names:Array(String)}",
        parameters={"names": read + written + stored},
    ).result_rows
    assert dict(kinds) == {
        **dict.fromkeys(read, "ALIAS"),
        **dict.fromkeys(written, "EPHEMERAL"),
        **dict.fromkeys(stored, "DEFAULT"),
    }
    assert "ledger_025" not in {r[0] for r in client.query("SHOW TABLES").result_rows}

    # The views follow the new table: a row written now is counted once, everywhere.
    client.insert("ledger", rows(VALUES[:1], offset=2_000), column_names=since_025(COLUMNS))
    daily = client.query(DAILY).result_rows
    llm = [row for row in daily if row[3] == "openai" and row[2] == "llm"]
    gpt = ("acme", AT.date(), "llm", "openai", "openai/gpt-4o", 3, Decimal("0.0135"), Decimal(3_600))
    assert llm == [gpt]
    assert len(client.query(COUNTED).result_rows) == len(VALUES) + 3 + 1


def test_every_price_quantity_and_cost_comes_back_exactly_as_written(database: Settings) -> None:
    migrate(database, log=lambda _: None)
    client = open_client(database)
    client.insert("ledger", rows(VALUES), column_names=since_025(COLUMNS))
    client.insert("ledger", rows(VALUES, offset=100), column_names=since_025(COLUMNS))
    client.command("OPTIMIZE TABLE ledger FINAL")
    stored = client.query(f"SELECT {READABLE} FROM ledger ORDER BY source_offset").result_rows
    assert stored == [tuple(v) for v in VALUES + VALUES]
    sums = client.query(
        "SELECT sum(cost), sum(quantity) FROM ledger WHERE abs(cost) < 100000000000000000000"
    ).result_rows
    small = [v for v in VALUES if abs(v[-1]) < Decimal(10**20)]
    with localcontext(Context(prec=60)):  # every digit of the sums, as ClickHouse's Decimal(38, 12) adds
        assert sums == [(2 * sum(v[-1] for v in small), 2 * sum(v[5] for v in small))]
    # Past Int64's picos the cost is kept whole in cost_over; every other row leaves it 0.
    kept = client.query(
        "SELECT countIf(cost_over != 0), countIf(cost_pico != 0 AND cost_over != 0) FROM ledger"
    ).result_rows
    assert kept == [(2 * 4, 0)]  # the storage, outcome, embedding and vector query's
    # A model call's quantity is its tokens: nothing of it is left to store.
    assert client.query("SELECT quantity_rest FROM ledger WHERE source_offset = 0").result_rows == [(0,)]


def test_a_writer_naming_no_price_quantity_or_cost_gets_empty_and_zero_as_before(database: Settings) -> None:
    migrate(database, log=lambda _: None)
    client = open_client(database)
    client.insert("ledger", [["e-1", AT, "acme", "bot", 0, 1]],
                  column_names=["event_id_sent", "occurred_at", "customer_id", "agent_id", "source_partition",
                                "source_offset"])  # fmt: skip
    assert client.query(f"SELECT {READABLE} FROM ledger").result_rows == [("", "", "", "", "", 0, 0, 0, 0)]


def test_a_price_part_holding_the_separator_is_refused_not_split_otherwise(database: Settings) -> None:
    migrate(database, log=lambda _: None)
    client = open_client(database)
    hostile = rows([["tool", "tools", "a\x1fb", "calls", "v1", Decimal(1), 0, 0, Decimal(1)]])
    with pytest.raises(ch.DatabaseError, match="price_parts"):
        client.insert("ledger", hostile, column_names=since_025(COLUMNS))
    assert client.query("SELECT count() FROM ledger").result_rows == [(0,)]


@pytest.mark.parametrize("native", [True, False], ids=["native-blocks", "clickhouse-connect"])
def test_the_sinks_rows_read_back_with_the_price_quantity_and_cost_they_were_priced_at(
    database: Settings, native: bool
) -> None:
    migrate(database, log=lambda _: None)
    prices = PriceCatalog(load_price_dir(PRICES))
    sent = [
        event("llm-1", "llm", provider="openai", model="gpt-4o", input_tokens=1_000, output_tokens=200),
        event("tool-1"),
    ]
    counted = [(0, position(n, 0), prices.price(e)) for n, e in enumerate(sent)]

    async def write() -> None:
        client = await open_async_client(database)
        await ClickHouseSink(client, native=native).write_ledger(counted, NINE_AM)
        await client.close()

    asyncio.run(write())
    stored = (
        open_client(database)
        .query(f"SELECT event_id, {', '.join(PRICE)}, quantity, cost FROM ledger ORDER BY source_offset")
        .result_rows
    )
    assert stored == [
        (p.event.event_id, p.category, p.provider, p.sku, p.unit, p.price_version, p.quantity, p.cost)
        for _, _, p in counted
    ]
    daily = open_client(database).query(DAILY).result_rows
    assert sum(row[5] for row in daily) == len(sent)
