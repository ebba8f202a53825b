"""The ClickHouse-native peer: Kafka engine, materialized views, ASOF JOIN pricing, hourly windows.

It reads the bench's usage topic with a consumer group of its own (one
consumer) and writes to a database of its own. Prices are the bench's price
files as integer pico-dollar rates; cost is exact integer arithmetic, with
per-second and per-GB-month rates rounded half-even to the pico-dollar as
Costline's pricing does.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.exceptions import DatabaseError

from bench import cpu
from bench.counting import Counting
from bench.services import service_pids
from costline.clickhouse import open_client
from costline.config import Settings
from costline.migrations import _statements
from schemas.prices import PriceVersion

SQL = Path(__file__).resolve().parent / "sql" / "clickhouse_native.sql"
PICO = Decimal(10**12)
# Price rate name -> (peer_prices column, pico-dollars per rate unit).
_RATES = {
    "input_per_mtok": ("input_per_token", PICO / 10**6),
    "cached_input_per_mtok": ("cached_per_token", PICO / 10**6),
    "output_per_mtok": ("output_per_token", PICO / 10**6),
    "per_mtok": ("per_token", PICO / 10**6),
    "per_call": ("per_unit", PICO),
    "per_query": ("per_unit", PICO),
    "per_minute": ("per_unit", PICO),
    "per_hour": ("per_hour", PICO),
    "per_gb_month": ("per_gb_month", PICO),
}
COLUMNS = [
    "sku", "effective_from", "input_per_token", "cached_per_token", "output_per_token",
    "per_token", "per_unit", "per_hour", "per_gb_month",
]  # fmt: skip


def price_rows(versions: Iterable[PriceVersion]) -> list[list[Any]]:
    """One row per (list) price: its rates as whole pico-dollars per token, unit, hour or GB-month."""
    rows = []
    for version in versions:
        for price in version.prices:
            row: dict[str, Any] = {"sku": price.sku, "effective_from": version.effective_from}
            for name, rate in price.rates().items():
                if name in _RATES and isinstance(rate, Decimal):
                    column, scale = _RATES[name]
                    row[column] = int(rate * scale)
            rows.append([row.get(c, 0) for c in COLUMNS])
    return rows


def _totals(client: Any, settle_s: float = 10.0) -> tuple[int, int]:
    """The ledger's and the windows' totals, once they agree (or ``settle_s`` passed). The windows'
    view writes a block's rows just after the ledger's: a count that saw the last block's ledger rows
    may come before its windows (one run read a block short). Timed and measured before this wait."""
    query = "SELECT (SELECT sum(cost_pico) FROM peer_ledger), (SELECT sum(cost_pico) FROM peer_windows)"
    deadline = time.perf_counter() + settle_s
    while True:
        total, windowed = client.query(query).result_rows[0]
        if total == windowed or time.perf_counter() > deadline:
            return int(total), int(windowed)
        time.sleep(0.1)


def run(
    settings: Settings, topic: str, events: int, expected: Decimal, versions: list[PriceVersion]
) -> dict[str, Any]:
    """Consume ``events`` from ``topic`` through the peer; its rate, CPU and the difference of its total."""
    database = f"costline_peer_chnative_{uuid.uuid4().hex[:8]}"
    admin = open_client(settings, database="")
    admin.command(f"CREATE DATABASE `{database}`")
    client = open_client(settings, database=database)
    statements = _statements(SQL.read_text())
    fill = {"{broker}": settings.kafka_bootstrap, "{topic}": topic, "{group}": database}
    pids = service_pids(settings)
    try:
        for statement in statements[:5]:
            client.command(statement)
        client.insert("peer_prices", price_rows(versions), column_names=COLUMNS)
        for statement in statements[5:]:
            for key, value in fill.items():
                statement = statement.replace(key, value)
            try:
                client.command(statement)
            except DatabaseError as exc:
                # chdb's server answers a Kafka table's CREATE so, yet creates it and consumes.
                if "Code: 49" not in str(exc):
                    raise
        # The queue's consumer starts with the view that reads it, the last statement.
        before = cpu.snapshot(pids)
        watch = Counting(events, time.perf_counter())
        watch.poll(
            lambda: int(client.query("SELECT count() FROM peer_ledger").result_rows[0][0]), lambda: None
        )
        after = cpu.snapshot(pids)
        total, windowed = _totals(client)
        figures: dict[str, Any] = {
            "peer_clickhouse_native_events_per_s": watch.rate,
            "peer_clickhouse_native_steady_events_per_s": watch.steady_rate,
            "peer_clickhouse_native_total_diff_usd": str(Decimal(total) / PICO - expected),
            "peer_clickhouse_native_windows_diff_usd": str(Decimal(windowed) / PICO - expected),
        }
        figures |= {
            f"peer_clickhouse_native_{k}": v for k, v in cpu.per_million(before, after, events).items()
        }
        return figures
    finally:
        client.command("DROP TABLE IF EXISTS peer_ledger_mv")
        client.command("DROP TABLE IF EXISTS peer_queue")
        admin.command(f"DROP DATABASE IF EXISTS `{database}`")
