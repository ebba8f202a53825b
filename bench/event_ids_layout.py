"""``event_ids`` laid out otherwise: ClickHouse's CPU for its view, its merges and its lookups, side by side.

``python -m bench.event_ids_layout [--rows 1000000] [--batch 100000] [--rounds 3] [--layouts ...]``

A database of its own is migrated to this tree's schema and its ``ledger`` filled once with ``--rows``
rows of the bench workload's shape (bench/workload.py: 1,000 zipf-skewed customers, UUIDv7 ids of each
event's time over a day, one id in 500 upper-case and one in 1,000 not a UUID at all). Each layout gets
a copy of that ledger (``CREATE TABLE ... AS ledger``) with its own ``event_ids`` table and view, and a
``none`` copy has no view: what a layout's view costs is its insert's CPU less ``none``'s.

Per round, every table emptied and merges stopped: the ledger's rows are inserted ``--batch`` at a
time (its stored columns) into every copy, in an order rotating with the batch and the round. Then
each layout's parts are merged ``--merges`` times in turn, in a copy (the parts attached as hard
links; ``OPTIMIZE ... FINAL``: all into one). Then each ``event_ids`` is asked ``--merges`` times in
turn as the batches left it (a part each), then merged and asked again. It is asked as the worker
asks (candidates as a Native block of two String columns, ``clickhouse_sink.candidates_block``): a
live batch's suspects (300 ids, 290 never counted), a backfill batch of stored ids (``--batch``, all
counted), a backfill batch of new ones (none counted); and the filter rebuild of a source partition
(every row). Every layout must find the same rows. CPU is the ClickHouse server process's (/proc),
so work of other clients of that server counts too: the medians are given, with their spreads.

Per 1M events, the e2e mix: the view and merges once per event, and either ten backfill lookups of 100k
(the e2e benchmark's batches: every id asked) or live lookups (one 300-id batch per 100k events).
The last line is JSON.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.external import ExternalData

from bench.ledger_bytes import server_cpu
from bench.workload import DAY
from costline.clickhouse import open_client, read_query
from costline.config import Settings
from costline.event_id import new_event_id
from costline.migrations import migrate
from streams.dedup import IdColumns
from streams.sinks.clickhouse_sink import candidates_block

DATABASE = "costline_bench_event_ids_layout"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ROW = (
    "source_partition, source_offset, source_index, "
    "toUnixTimestamp64Milli(ingested_at), toUnixTimestamp64Micro(occurred_at)"
)
COLUMNS = "occurred_at, source_partition, source_offset, source_index, ingested_at"

# The 008 table, as migrated (its settings made by 008 and 026).
STRING_TABLE = """
CREATE TABLE {table}
(
    customer_id LowCardinality(String), event_id String, occurred_at DateTime64(6, 'UTC'),
    source_partition UInt16, source_offset UInt64, source_index UInt16, ingested_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree PARTITION BY toYYYYMMDD(ingested_at)
ORDER BY (customer_id, event_id, source_partition, source_offset, source_index)
TTL toDateTime(ingested_at) + INTERVAL 36 DAY
SETTINGS ttl_only_drop_parts = 1, index_granularity = {granularity}, materialize_statistics_on_merge = 0
"""
STRING_VIEW = f"SELECT customer_id, event_id, {COLUMNS} FROM {{ledger}}"
STRING_LOOKUP = (
    f"SELECT customer_id, event_id, {ROW} FROM {{table}} "
    "WHERE (customer_id, event_id) IN (SELECT customer_id, event_id FROM candidates)"
)
STRING_HASHES = read_query("event_id_hashes")

# The id as the ledger stores it: the UUID's halves (the high one whole, not less the event's time)
# and, for an id that is not a canonical UUID, its text.
HALVES_TABLE = """
CREATE TABLE {table}
(
    customer_id LowCardinality(String), uuid_high UInt64, uuid_low UInt64, event_id_other String,
    occurred_at DateTime64(6, 'UTC'),
    source_partition UInt16, source_offset UInt64, source_index UInt16, ingested_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree PARTITION BY toYYYYMMDD(ingested_at)
ORDER BY (customer_id, uuid_high, uuid_low, event_id_other, source_partition, source_offset, source_index)
TTL toDateTime(ingested_at) + INTERVAL 36 DAY
SETTINGS ttl_only_drop_parts = 1, index_granularity = {granularity}, materialize_statistics_on_merge = 0
"""
HALVES_VIEW = (
    "SELECT customer_id, reinterpretAsUInt64(event_uuid_high + reinterpretAsInt64(bitShiftLeft("
    "toUInt64(toUnixTimestamp64Milli(occurred_at)), 16))) AS uuid_high, event_uuid_low AS uuid_low, "
    f"event_id_other, {COLUMNS} FROM {{ledger}}"
)
HALVES_TEXT = (
    "if(event_id_other = '', toString(reinterpret(bitOr(bitShiftLeft(toUInt128(uuid_low), 64), "
    "toUInt128(uuid_high)), 'UUID')), event_id_other)"
)
HALVES_LOOKUP = (
    f"SELECT customer_id, {HALVES_TEXT} AS event_id, {ROW} FROM {{table}} "
    "WHERE (customer_id, uuid_high, uuid_low, event_id_other) IN ("
    "SELECT customer_id, toUInt64(bitShiftRight(toUInt128(uuid), 64)), toUInt64(toUInt128(uuid)), "
    "if(toString(uuid) = event_id, '', event_id) "
    "FROM (SELECT customer_id, event_id, toUUIDOrZero(event_id) AS uuid FROM candidates))"
)
HALVES_HASHES = (
    f"SELECT xxHash64(concat(customer_id, '\\0', {HALVES_TEXT})) AS id_hash, "
    "toUInt32(toUnixTimestamp(ingested_at)) AS counted_at FROM {table} "
    "WHERE source_partition = {partition:UInt16} "
    "AND ingested_at >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')"
)


Cpu = Callable[[], float | None]


@dataclass(frozen=True)
class Layout:
    table: str
    view: str
    lookup: str
    hashes: str
    granularity: int


LAYOUTS = {
    "string256": Layout(STRING_TABLE, STRING_VIEW, STRING_LOOKUP, STRING_HASHES, 256),
    "string1024": Layout(STRING_TABLE, STRING_VIEW, STRING_LOOKUP, STRING_HASHES, 1024),
    "halves256": Layout(HALVES_TABLE, HALVES_VIEW, HALVES_LOOKUP, HALVES_HASHES, 256),
    "halves512": Layout(HALVES_TABLE, HALVES_VIEW, HALVES_LOOKUP, HALVES_HASHES, 512),
    "halves1024": Layout(HALVES_TABLE, HALVES_VIEW, HALVES_LOOKUP, HALVES_HASHES, 1024),
}


@dataclass
class Workload:
    customers: list[str]
    ids: list[str]
    times: list[datetime]


def workload(rows: int, seed: int = 1) -> Workload:
    """The bench workload's customers and ids over a day; some ids upper-case, some not UUIDs."""
    rng, id_rng = random.Random(seed), random.Random(f"event-ids-{seed}")
    names = [f"cust-{i:04d}" for i in range(1000)]
    customers = rng.choices(names, [1 / (k**1.1) for k in range(1, 1001)], k=rows)
    step = 86_400 / rows
    times = [DAY + timedelta(seconds=i * step) for i in range(rows)]
    ids = [new_event_id(at, id_rng) for at in times]
    for i in range(0, rows, 500):
        ids[i] = ids[i].upper()
    for i in range(1, rows, 1000):
        ids[i] = f"retry-{i}-{ids[i][:8]}"
    return Workload(customers, ids, times)


def fill_source(client: Client, work: Workload) -> None:
    client.command("TRUNCATE TABLE ledger")
    now = datetime.now(UTC)
    names = [
        "event_id_sent", "occurred_at", "customer_id", "source_partition", "source_offset", "ingested_at_sent"
    ]  # fmt: skip
    for first in range(0, len(work.ids), 100_000):
        last = min(first + 100_000, len(work.ids))
        rows = [[work.ids[i], work.times[i], work.customers[i], 0, i, now] for i in range(first, last)]
        client.insert("ledger", rows, column_names=names)
    client.command("OPTIMIZE TABLE ledger FINAL")


def stored_columns(client: Client) -> str:
    return ", ".join(
        name
        for (name,) in client.query(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'ledger' "
            "AND default_kind NOT IN ('ALIAS', 'EPHEMERAL') ORDER BY position"
        ).result_rows
    )


def create(client: Client, names: list[str]) -> None:
    for name in ["none", *names]:
        client.command(f"DROP TABLE IF EXISTS view_{name}")
        client.command(f"DROP TABLE IF EXISTS ids_{name}")
        client.command(f"DROP TABLE IF EXISTS ledger_{name}")
        client.command(f"CREATE TABLE ledger_{name} AS ledger")
        if name == "none":
            continue
        layout = LAYOUTS[name]
        client.command(layout.table.format(table=f"ids_{name}", granularity=layout.granularity))
        view = layout.view.format(ledger=f"ledger_{name}")
        client.command(f"CREATE MATERIALIZED VIEW view_{name} TO ids_{name} AS {view}")


def ask(
    client: Client, layout: Layout, table: str, customers: list[str], ids: list[str]
) -> set[tuple[Any, ...]]:
    data = candidates_block(IdColumns(customers, ids))
    candidates = ExternalData(
        file_name="candidates", data=data, fmt="Native", structure=["customer_id String", "event_id String"]
    )
    result = client.query(layout.lookup.format(table=table), external_data=candidates)
    return {tuple(row) for row in result.result_rows}


def hashes_query(layout: Layout, table: str) -> str:
    """The layout's filter rebuild, of ``table``."""
    return layout.hashes.replace("{table}", table).replace("FROM event_ids\n", f"FROM {table}\n")


def rebuild(client: Client, layout: Layout, table: str) -> set[tuple[Any, ...]]:
    rows = client.query(hashes_query(layout, table), parameters={"partition": 0, "since_ms": 0}).result_rows
    return {tuple(row) for row in rows}


def rotated(names: list[str], turn: int) -> list[str]:
    """``names`` starting at the ``turn``-th, so that no layout always goes first."""
    return names[turn % len(names) :] + names[: turn % len(names)]


def merge_copy(client: Client, cpu: Cpu, table: str) -> float:
    """The server's CPU seconds merging a copy of ``table``'s unmerged parts (hard links) into one."""
    client.command("DROP TABLE IF EXISTS merged_copy SYNC")
    client.command(f"CREATE TABLE merged_copy AS {table}")
    client.command("SYSTEM STOP MERGES merged_copy")
    for (partition,) in client.query(
        "SELECT DISTINCT partition_id FROM system.parts WHERE database = currentDatabase() "
        "AND table = {t:String} AND active",
        parameters={"t": table},
    ).result_rows:
        client.command(f"ALTER TABLE merged_copy ATTACH PARTITION ID '{partition}' FROM {table}")
    client.command("SYSTEM START MERGES merged_copy")
    _, spent = measured(cpu, lambda: client.command("OPTIMIZE TABLE merged_copy FINAL"))
    client.command("DROP TABLE merged_copy SYNC")
    return spent


def measured(cpu: Cpu, work: Callable[[], Any]) -> tuple[Any, float]:
    before = cpu() or 0.0
    result = work()
    return result, (cpu() or 0.0) - before


Asks = dict[str, tuple[list[str], list[str]]]
Spent = dict[str, dict[str, list[float]]]
Found = dict[str, set[tuple[Any, ...]]]


def asks_of(work: Workload, batch: int) -> Asks:
    """A live batch's suspects (290 never counted, 10 counted), a backfill batch of counted ids and
    one of new ids (events a day after the workload's, of the same customers)."""
    rows, rng = len(work.ids), random.Random(7)
    old = rng.sample(range(rows), 10)
    live_new = [new_event_id(DAY + timedelta(days=1, seconds=i), rng) for i in range(290)]
    later = [new_event_id(DAY + timedelta(days=2, seconds=i / 10), rng) for i in range(batch)]
    return {
        "live": (
            work.customers[:290] + [work.customers[i] for i in old],
            live_new + [work.ids[i] for i in old],
        ),
        "backfill_stored": (work.customers[rows - batch :], work.ids[rows - batch :]),
        "backfill_new": (work.customers[:batch], later),
    }


def insert_round(
    client: Client, cpu: Cpu, every: list[str], rows: int, batch: int, r: int
) -> dict[str, float]:
    """Each copy of the ledger emptied and filled again ``batch`` rows at a time, its views' CPU summed."""
    for name in every:
        client.command(f"TRUNCATE TABLE ledger_{name}")
        client.command(f"SYSTEM STOP MERGES ledger_{name}")
        if name != "none":
            client.command(f"TRUNCATE TABLE ids_{name}")
            client.command(f"SYSTEM STOP MERGES ids_{name}")
    columns = stored_columns(client)
    inserts = dict.fromkeys(every, 0.0)
    for b, start in enumerate(range(0, rows, batch)):
        for name in rotated(every, b + r):
            sql = (
                f"INSERT INTO ledger_{name} ({columns}) SELECT {columns} FROM ledger "
                f"WHERE source_offset >= {start} AND source_offset < {start + batch}"
            )
            inserts[name] += measured(cpu, partial(client.command, sql))[1]
    return inserts


def lookup_trial(client: Client, cpu: Cpu, name: str, asks: Asks, spent: Spent, state: str) -> Found:
    """Each lookup and the filter rebuild of layout ``name``, its CPU kept under ``state``."""
    layout, table = LAYOUTS[name], f"ids_{name}"
    found: Found = {}
    for what, (customers, ids) in asks.items():
        found[what], took = measured(cpu, partial(ask, client, layout, table, customers, ids))
        spent[name].setdefault(f"{what}_{state}", []).append(took)
    found["rebuild"], took = measured(cpu, lambda: rebuild(client, layout, table))
    spent[name].setdefault(f"rebuild_{state}", []).append(took)
    return found


def run(
    settings: Settings, rows: int, batch: int, rounds: int, merges: int, names: list[str]
) -> dict[str, Any]:
    db = settings.model_copy(update={"clickhouse_database": DATABASE})
    open_client(settings, database="").command(f"DROP DATABASE IF EXISTS {DATABASE}")
    migrate(db, log=lambda _: None)
    client, cpu = open_client(db), server_cpu(db)
    work = workload(rows)
    fill_source(client, work)
    create(client, names)
    every, asks = ["none", *names], asks_of(work, batch)
    spent: Spent = {n: {} for n in every}
    answers: dict[str, Found] = {}
    for r in range(rounds):
        for name, took in insert_round(client, cpu, every, rows, batch, r).items():
            spent[name].setdefault("insert", []).append(took)
        for trial in range(merges):
            for name in rotated(names, r * merges + trial):
                spent[name].setdefault("merge", []).append(merge_copy(client, cpu, f"ids_{name}"))
        # Asked first as a backfill finds the table, its batches' parts not merged yet; then merged.
        for state in ("parts", "merged"):
            for trial in range(merges):
                for name in rotated(names, r * merges + trial):
                    answers.setdefault(name, lookup_trial(client, cpu, name, asks, spent, state))
            for name in names:
                client.command(f"SYSTEM START MERGES ids_{name}")
                client.command(f"OPTIMIZE TABLE ids_{name} FINAL")
        inserted = ", ".join(f"{n} insert {spent[n]['insert'][-1]:.2f}" for n in every)
        print(f"round {r}: {inserted}", flush=True)
    reference = answers[names[0]]
    for name in names[1:]:
        for what, rows_found in answers[name].items():
            assert rows_found == reference[what], f"{name} found other rows than {names[0]} ({what})"
    counts = {what: len(found) for what, found in reference.items()}
    assert counts["live"] == 10 and counts["backfill_stored"] == batch and counts["backfill_new"] == 0, counts
    figures: dict[str, Any] = {
        "rows": rows, "batch": batch, "rounds": rounds, "merges": merges, "found": counts
    }  # fmt: skip
    for name in names:
        figures[name] = summary(spent[name], spent["none"]["insert"], rows, batch)
        figures[name]["bytes"] = client.query(
            "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = currentDatabase() "
            "AND table = {t:String} AND active",
            parameters={"t": f"ids_{name}"},
        ).result_rows[0][0]
    figures["none"] = {"median_insert_cpu_s": round(statistics.median(spent["none"]["insert"]), 3)}
    return figures


def summary(spent: dict[str, list[float]], bare: list[float], rows: int, batch: int) -> dict[str, Any]:
    """A layout's medians and spreads, and per 1M events at the e2e's mix: the view (its ledger
    inserts less ``bare``, the same rows' inserts with no view), merges, and ten lookups of ``batch``
    ids (a backfill: every id asked, none found) or ten live batches' 300 suspects, of the table in
    its batches' parts (totals) or merged."""
    med = {what: statistics.median(v) for what, v in spent.items()}
    view = [a - b for a, b in zip(spent["insert"], bare, strict=True)]
    scale, lookups = 1_000_000 / rows, 1_000_000 / batch
    per_1m = {
        "view": statistics.median(view) * scale,
        "merge": med["merge"] * scale,
        "backfill_lookups": med["backfill_new_parts"] * lookups,
        "backfill_lookups_merged": med["backfill_new_merged"] * lookups,
        "live_lookups": med["live_parts"] * lookups,
        "live_lookups_merged": med["live_merged"] * lookups,
    }
    per_1m["total_backfill"] = per_1m["view"] + per_1m["merge"] + per_1m["backfill_lookups"]
    per_1m["total_live"] = per_1m["view"] + per_1m["merge"] + per_1m["live_lookups"]
    return {
        "median_cpu_s": {k: round(v, 3) for k, v in med.items()},
        "spread_cpu_s": {k: round(max(v) - min(v), 3) for k, v in spent.items()},
        "view_cpu_s": [round(v, 3) for v in view],
        "per_1m": {k: round(v, 3) for k, v in per_1m.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--merges", type=int, default=3, help="merges of each layout's parts, and of each lookup, a round"
    )
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures = run(Settings(), args.rows, args.batch, args.rounds, args.merges, args.layouts)
    for name in args.layouts:
        f = figures[name]
        per_1m = ", ".join(f"{k} {v:.2f}" for k, v in f["per_1m"].items())
        print(
            f"{name:>11}: per 1M events {per_1m} | medians {f['median_cpu_s']} | "
            f"spreads {f['spread_cpu_s']} | {f['bytes']:,} bytes"
        )
    print(f"({time.perf_counter() - started:.0f} s)")
    print(orjson.dumps(figures).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
