"""Ledger bytes per row: of the final schema, or before and after a ledger migration, on generated rows.

    python -m bench.ledger_bytes --final [--rows N] [--ids v7] [--no-views] [--keep]
    python -m bench.ledger_bytes [--rows N] [--ids v7] [--before 019_] [--no-views] [--keep]

``--final``: a database of its own is migrated to the last migration, filled
with the generated ledger (bench/run.py, ``fill_ledger``) and merged, and its
bytes are measured: no migration runs on the rows, so 100M rows take the
fill and one merge (migrating 100M rows took 40 minutes in session 13).
Otherwise the database is migrated up to (not including) the first migration
named ``--before`` or later, filled and merged; its bytes are measured; then
the remaining migrations run on those rows (as they would on a deployed
ledger), the table is merged again and measured again.

Either way the rows' count and sums (cost, quantity, tokens, unique users,
hashes of every id and ingestion time) as generated are checked against the
merged (and migrated) ledger's, and every row's cost and quantity against
what the generator derives them from (its kind and tokens); the wall time and
the ClickHouse server's CPU time of the fill and of each merge are given
(read from /proc: the local server's whole process, so any other work on
that server meanwhile counts too).
Prints one JSON line. ``--no-views``: the views' tables are left empty and
not checked (their fill needs GBs of memory at 100M rows); the ledger's
bytes are the same. ``--keep``: the database is left for trials.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson
from clickhouse_connect.driver.client import Client

from bench.run import check_views, fill_ledger
from costline import migrations
from costline.clickhouse import open_client
from costline.config import Settings, get_settings
from costline.dev import local_servers

# How long a statement's answer is waited for: the merge of 100M rows outlasts the client's 300 s.
WAIT_S = 4 * 3600.0

SUMS = (
    "SELECT count(), sum(cost), sum(quantity), sum(input_tokens), sum(cached_input_tokens), "
    "sum(output_tokens), uniqExact(user_id), sum(cityHash64(event_id)), sum(cityHash64(ingested_at)) "
    "FROM ledger"
)
# Rows whose cost or quantity is not what bench/sql/generate_ledger.sql makes of the row's kind and tokens
# (a model call's quantity is its input plus output tokens and its cost 2,500 and 10,000 nano-dollars a token;
# an outcome is free; any other cost is whole nano-dollars under half a cent, any other quantity 1-5 or an
# embedding's 100-3,999): read through the ALIAS columns, which must give back exactly what was written.
NOT_AS_GENERATED = """
SELECT countIf(NOT multiIf(
    kind = 'llm',
    reinterpretAsInt128(cost) = toInt128(input_tokens * 2500 + output_tokens * 10000) * 1000
        AND quantity = toDecimal128(input_tokens + output_tokens, 12),
    input_tokens + cached_input_tokens + output_tokens != 0, false,
    kind = 'outcome', cost = 0 AND quantity BETWEEN 1 AND 5 AND quantity = floor(quantity),
    reinterpretAsInt128(cost) % 1000 = 0 AND cost >= 0 AND cost < toDecimal128('0.005', 12)
        AND quantity = floor(quantity)
        AND if(kind = 'embedding', quantity BETWEEN 100 AND 3999, quantity BETWEEN 1 AND 5)))
FROM ledger
"""

T = TypeVar("T")


@contextmanager
def migrations_before(name: str) -> Iterator[None]:
    every = migrations.ddl_files
    original = every()
    migrations.ddl_files = lambda *_: [p for p in original if p.name < name]  # type: ignore[assignment]
    try:
        yield
    finally:
        migrations.ddl_files = every  # type: ignore[assignment]


def cpu_s_of_stat(stat: str, ticks_per_s: int) -> float:
    """A process's user plus system CPU seconds from the text of its ``/proc/PID/stat``.

    The command's name (field 2) is in parentheses and may hold spaces, so the
    fields are counted after its closing one: utime and stime are fields 14 and 15.
    """
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / ticks_per_s


def server_cpu(settings: Settings) -> Callable[[], float | None]:
    """The local ClickHouse server's CPU seconds so far, or None (no server process of ours to read)."""
    server = (
        None if settings.clickhouse_url.startswith("chdb:") else local_servers.clickhouse_server(settings)
    )
    pid = None if server is None else server.pid()

    def read() -> float | None:
        if pid is None:
            return None
        return cpu_s_of_stat(Path(f"/proc/{pid}/stat").read_text(), os.sysconf("SC_CLK_TCK"))

    return read


def timed(cpu: Callable[[], float | None], work: Callable[[], T]) -> tuple[T, dict[str, float | None]]:
    """What ``work`` returns, with its wall seconds and the ClickHouse server's CPU seconds meanwhile."""
    cpu_before, started = cpu(), time.perf_counter()
    result = work()
    wall, cpu_after = time.perf_counter() - started, cpu()
    spent = None if cpu_before is None or cpu_after is None else round(cpu_after - cpu_before, 1)
    return result, {"wall_s": round(wall, 1), "server_cpu_s": spent}


def merge(client: Client) -> None:
    client.command("OPTIMIZE TABLE ledger FINAL")


def measured(client: Client, rows: int) -> dict[str, Any]:
    """Bytes per row on disk of the active parts, and each column's compressed (and raw) bytes per row
    (of wide parts: a compact part, under 10 MB, gives its columns no bytes of their own)."""
    where = "WHERE database = currentDatabase() AND table = 'ledger'"
    total = client.query(
        f"SELECT sum(bytes_on_disk) / sum(rows), sum(rows), count() FROM system.parts {where} AND active"
    ).result_rows[0]
    described = client.query(f"SELECT name, compression_codec FROM system.columns {where}").result_rows
    codecs: dict[str, str] = {name: codec for name, codec in described}
    columns = client.query(
        "SELECT column, any(type), sum(column_data_compressed_bytes) / {n:UInt64} AS b, "
        f"sum(column_data_uncompressed_bytes) / {{n:UInt64}} FROM system.parts_columns {where} AND active "
        "GROUP BY column HAVING b > 0 ORDER BY b DESC",
        parameters={"n": rows},
    ).result_rows
    return {
        "bytes_per_row": total[0],
        "rows": total[1],
        "parts": total[2],
        "columns": {
            name: [type_, codecs.get(name, ""), round(b, 3), round(raw, 3)] for name, type_, b, raw in columns
        },
    }


@contextmanager
def scratch_database(settings: Settings, name: str, keep: bool) -> Iterator[Settings]:
    """Settings for a database of the bench's own, made empty first; dropped after unless ``keep``
    (or the measurement failed: it is left to look at)."""
    db = settings.model_copy(update={"clickhouse_database": name, "clickhouse_timeout_s": WAIT_S})
    open_client(db, database="").command(f"DROP DATABASE IF EXISTS `{name}`")
    yield db
    if not keep:
        open_client(db, database="").command(f"DROP DATABASE `{name}`")


def filled(
    client: Client, cpu: Callable[[], float | None], rows: int, ids: str, views: bool
) -> tuple[dict[str, float | None], Sequence[Any]]:
    """The generated ledger loaded: the fill's wall and server CPU, and the sums as generated."""
    _, fill = timed(cpu, lambda: fill_ledger(client, rows, ids, views))
    return fill, client.query(SUMS).result_rows[0]


def rows_not_as_generated(client: Client, views: bool) -> int:
    """Rows whose cost or quantity is not what the generator makes of their kind and tokens; the
    views' tables are checked too where they were filled."""
    count = int(client.query(NOT_AS_GENERATED).result_rows[0][0])
    if views:
        check_views(client)
    return count


def final_schema(settings: Settings, rows: int, ids: str, views: bool, keep: bool) -> dict[str, Any]:
    """The last migration's ledger, filled with ``rows`` generated rows, merged and measured."""
    cpu = server_cpu(settings)
    with scratch_database(settings, f"costline_bench_bytes_final_{rows}_{ids}", keep) as db:
        applied = migrations.migrate(db, log=lambda _: None)
        client = open_client(db, wait_s=WAIT_S)
        fill, generated = filled(client, cpu, rows, ids, views)
        _, merged = timed(cpu, lambda: merge(client))
        figures = measured(client, rows)
        stored = client.query(SUMS).result_rows[0]
        not_as_generated = rows_not_as_generated(client, views)
    return {
        "rows": rows,
        "ids": ids,
        "schema": applied[-1],
        "same_rows_and_sums": generated == stored and stored[0] == rows,
        "rows_not_as_generated": not_as_generated,
        "sums": [str(value) for value in stored[:6]],
        "bytes_per_row": figures["bytes_per_row"],
        "parts": figures["parts"],
        "fill": fill,
        "merge": merged,
        "columns": figures["columns"],
    }


def before_and_after(
    settings: Settings, rows: int, ids: str, before: str, views: bool, keep: bool = False
) -> dict[str, Any]:
    """The ledger before ``before``, filled, merged and measured; then migrated, merged and measured again.

    The migrations' own statements wait as long as the client's default (300 s): at 100M rows use --final.
    """
    cpu = server_cpu(settings)
    with scratch_database(settings, f"costline_bench_bytes_{rows}_{ids}", keep) as db:
        with migrations_before(before):
            migrations.migrate(db, log=lambda _: None)
        client = open_client(db, wait_s=WAIT_S)
        fill, generated = filled(client, cpu, rows, ids, views)
        _, merged_before = timed(cpu, lambda: merge(client))
        old = measured(client, rows)
        old_sums = client.query(SUMS).result_rows[0]
        applied, migrated = timed(cpu, lambda: migrations.migrate(db, log=lambda _: None))
        _, merged_after = timed(cpu, lambda: merge(client))
        new = measured(client, rows)
        new_sums = client.query(SUMS).result_rows[0]
        not_as_generated = rows_not_as_generated(client, views)
    return {
        "rows": rows,
        "ids": ids,
        "applied": applied,
        "same_rows_and_sums": generated == old_sums == new_sums and new_sums[0] == rows,
        "rows_not_as_generated": not_as_generated,
        "bytes_per_row_before": old["bytes_per_row"],
        "bytes_per_row_after": new["bytes_per_row"],
        "fill": fill,
        "merge_before": merged_before,
        "migrate": migrated,
        "merge_after": merged_after,
        "columns_before": old["columns"],
        "columns_after": new["columns"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--ids", choices=("v4", "v7"), default="v7")
    parser.add_argument(
        "--final", action="store_true", help="measure the last migration's ledger (no migrating)"
    )
    parser.add_argument("--before", default="019_", help="the first migration measured as 'after'")
    parser.add_argument("--no-views", action="store_true", help="leave the views' tables empty")
    parser.add_argument("--keep", action="store_true", help="leave the database for trials")
    args = parser.parse_args(argv)
    settings = get_settings()
    started = local_servers.up(settings)
    try:
        if args.final:
            figures = final_schema(settings, args.rows, args.ids, not args.no_views, args.keep)
        else:
            views = not args.no_views
            figures = before_and_after(settings, args.rows, args.ids, args.before, views, args.keep)
    finally:
        local_servers.down(settings, tuple(started))
    print(orjson.dumps(figures).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
