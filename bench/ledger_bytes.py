"""Ledger bytes per row before and after the newest ledger migration, on the same generated rows.

    python -m bench.ledger_bytes [--rows N] [--ids v7] [--before 019_] [--no-views]

A database of its own is migrated up to (not including) the first migration
named ``--before`` or later, filled with the generated ledger (bench/run.py,
``fill_ledger``) and merged; its bytes are measured; then the remaining
migrations run on those rows (as they would on a deployed ledger), the
table is merged again and measured again. Prints one JSON line.
``--no-views``: the views' tables are left empty and not checked (their
fill needs GBs of memory at 100M rows); the ledger's bytes are the same.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from bench.run import check_views, fill_ledger
from costline import migrations
from costline.clickhouse import open_client
from costline.config import Settings, get_settings
from costline.dev import local_servers


@contextmanager
def migrations_before(name: str) -> Iterator[None]:
    every = migrations.ddl_files
    original = every()
    migrations.ddl_files = lambda *_: [p for p in original if p.name < name]  # type: ignore[assignment]
    try:
        yield
    finally:
        migrations.ddl_files = every  # type: ignore[assignment]


def measured(client: Client, rows: int) -> dict[str, Any]:
    """Bytes per row on disk, merged, and each column's compressed bytes per row."""
    client.command("OPTIMIZE TABLE ledger FINAL")
    total = client.query(
        "SELECT sum(bytes_on_disk) / sum(rows), sum(rows) FROM system.parts "
        "WHERE database = currentDatabase() AND table = 'ledger' AND active"
    ).result_rows[0]
    columns = client.query(
        "SELECT name, type, compression_codec, data_compressed_bytes / {n:UInt64} FROM system.columns "
        "WHERE database = currentDatabase() AND table = 'ledger' AND data_compressed_bytes > 0 "
        "ORDER BY data_compressed_bytes DESC",
        parameters={"n": rows},
    ).result_rows
    return {
        "bytes_per_row": total[0],
        "rows": total[1],
        "columns": {name: [type_, codec, round(b, 3)] for name, type_, codec, b in columns},
    }


def before_and_after(settings: Settings, rows: int, ids: str, before: str, views: bool) -> dict[str, Any]:
    db = settings.model_copy(
        update={"clickhouse_database": f"costline_bench_bytes_{rows}_{ids}", "clickhouse_timeout_s": 3600}
    )
    open_client(db, database="").command(f"DROP DATABASE IF EXISTS `{db.clickhouse_database}`")
    with migrations_before(before):
        migrations.migrate(db, log=lambda _: None)
    client = open_client(db)
    fill_ledger(client, rows, ids, views)
    sums = (
        "SELECT count(), sum(cost), sum(quantity), uniqExact(user_id), sum(cityHash64(event_id)), "
        "sum(cityHash64(ingested_at)) FROM ledger"
    )
    old_sums = client.query(sums).result_rows[0]
    old = measured(client, rows)
    applied = migrations.migrate(db, log=lambda _: None)
    new = measured(client, rows)
    new_sums = client.query(sums).result_rows[0]
    if views:
        check_views(client)
    open_client(db, database="").command(f"DROP DATABASE `{db.clickhouse_database}`")
    return {
        "rows": rows,
        "ids": ids,
        "applied": applied,
        "same_rows_and_sums": old_sums == new_sums,
        "bytes_per_row_before": old["bytes_per_row"],
        "bytes_per_row_after": new["bytes_per_row"],
        "columns_before": old["columns"],
        "columns_after": new["columns"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--ids", choices=("v4", "v7"), default="v7")
    parser.add_argument("--before", default="019_", help="the first migration measured as 'after'")
    parser.add_argument("--no-views", action="store_true", help="leave the views' tables empty")
    args = parser.parse_args(argv)
    settings = get_settings()
    started = local_servers.up(settings)
    try:
        figures = before_and_after(settings, args.rows, args.ids, args.before, not args.no_views)
    finally:
        local_servers.down(settings, tuple(started))
    print(orjson.dumps(figures).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
