"""bench.ledger_bytes on the real ClickHouse: the final schema filled, merged and measured with its rows as
generated, and the check of every row against the generator catching a cost or quantity it did not make."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from bench.ledger_bytes import NOT_AS_GENERATED, final_schema
from bench.run import fill_ledger
from costline.clickhouse import open_client
from costline.config import Settings
from costline.migrations import ddl_files, migrate
from tests.e2e.migration_steps import since_025

AT = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
COLUMNS = since_025(["event_id_sent", "occurred_at", "customer_id", "agent_id", "kind", "provider", "sku",
                     "unit", "price_version", "input_tokens", "output_tokens", "quantity", "cost",
                     "source_offset"])  # fmt: skip
LLM = ["llm", "openai", "openai/gpt-4o", "tokens", "2024-10-01-list", 1_000, 200]
EMBEDDING = ["embedding", "openai", "openai/text-embedding-3-small", "tokens", "v1", 0, 0]
ROWS = [
    # a model call's cost one pico past its tokens' (2,500 and 10,000 nano-dollars a token)
    ["a", AT, "acme", "bot", *LLM, Decimal(1_200), Decimal("0.004500000001"), 10**9],
    # its quantity one token short
    ["b", AT, "acme", "bot", *LLM, Decimal(1_199), Decimal("0.0045"), 10**9 + 1],
    # a tool call with tokens
    ["c", AT, "acme", "bot", "tool", "tools", "tavily-search", "calls", "v1", 5, 0, Decimal(5),
     Decimal("0.001"), 10**9 + 2],
    # as the generator makes them: a model call and an embedding
    ["d", AT, "acme", "bot", *LLM, Decimal(1_200), Decimal("0.0045"), 10**9 + 3],
    ["e", AT, "acme", "bot", *EMBEDDING, Decimal(100), Decimal("0.000002"), 10**9 + 4],
]  # fmt: skip


def test_the_final_schema_is_filled_merged_and_measured_with_its_rows_as_generated(
    services: Settings,
) -> None:
    # Enough rows for wide parts: a compact part (under 10 MB) gives no column its own bytes.
    figures = final_schema(services, 200_000, "v7", views=True, keep=False)
    assert figures["schema"] == ddl_files()[-1].name
    assert figures["same_rows_and_sums"] is True
    assert figures["rows_not_as_generated"] == 0
    assert figures["parts"] >= 1 and 10 < figures["bytes_per_row"] < 60
    assert {"event_uuid_low", "cost_pico", "price_key"} <= set(figures["columns"])
    assert figures["merge"]["server_cpu_s"] is not None
    left = open_client(services, database="").query(
        "SELECT count() FROM system.databases WHERE name = 'costline_bench_bytes_final_200000_v7'"
    )
    assert left.result_rows == [(0,)]


def test_a_cost_or_quantity_the_generator_did_not_make_is_counted(database: Settings) -> None:
    migrate(database, log=lambda _: None)
    client = open_client(database)
    fill_ledger(client, 5_000, "v7", views=False)
    assert client.query(NOT_AS_GENERATED).result_rows == [(0,)]
    client.insert("ledger", ROWS, column_names=COLUMNS)
    assert client.query(NOT_AS_GENERATED).result_rows == [(3,)]
