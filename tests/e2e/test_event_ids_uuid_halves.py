"""event_ids keeps the id as the ledger stores it (sql/ddl/027_event_ids_uuid_halves.sql) on the real
ClickHouse: a database with counted ids is migrated and keeps every one of them, with where and when
it was counted, and its filter hashes; the sink's lookup finds an id counted before the migration
and one counted since, tells an upper-case UUID from its lower-case twin, and finds a non-UUID id as
exactly that id; and a worker of before the migration still finds every id with its own query."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.external import ExternalData

from costline.clickhouse import open_async_client, open_client, read_query
from costline.config import Settings
from costline.event_id import new_event_id
from costline.migrations import migrate
from streams.aggregation import split_position
from streams.dedup import CountedId
from streams.sinks.clickhouse_sink import ClickHouseSink
from tests.e2e.migration_steps import MigrateOnly, since_025

AT = datetime(2026, 11, 20, 12, 0, 0, 250_999, tzinfo=UTC)
NOW = datetime.now(UTC).replace(microsecond=123_000)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
V7 = new_event_id(AT, random.Random(1))
V4 = "0b7e1f3c-5d2a-4f6e-9a1b-2c3d4e5f6a7b"
UPPER = V4.upper()
NIL = "00000000-0000-0000-0000-000000000000"
BRACED = "{" + V7 + "}"  # a UUID ClickHouse would not parse as one: kept as text
ODD = ["req-81f3", "back\\slash", "\\N", "quote\"'", "naïve-ü-😀"]
EVERY_KIND = [V7, V4, UPPER, NIL, BRACED, *ODD]
COLUMNS = ["event_id_sent", "occurred_at", "customer_id", "agent_id", "kind", "sku", "cost",
           "source_partition", "source_offset", "ingested_at_sent"]  # fmt: skip
COUNTED = (
    "SELECT customer_id, event_id, occurred_at, source_partition, source_offset, source_index, ingested_at "
    "FROM event_ids FINAL ORDER BY source_offset, event_id"
)
# The lookup of 008 to 026: a worker of before this migration still sends it.
OLD_LOOKUP = (
    "SELECT customer_id, event_id, source_offset FROM event_ids "
    "WHERE (customer_id, event_id) IN (SELECT customer_id, event_id FROM candidates)"
)


def rows(ids: list[str], offset: int = 0, customer: str = "acme") -> list[list[Any]]:
    """One tool call per id, at AT, each at its own Kafka position from ``offset``, ingested NOW."""
    return [
        [event_id, AT, customer, "bot", "tool", "tavily-search", Decimal("0.01"), 0, offset + n, NOW]
        for n, event_id in enumerate(ids)
    ]


def halves(uuid: str) -> tuple[int, int]:
    """A UUID's big-endian halves, as unsigned 64-bit integers."""
    digits = uuid.replace("-", "")
    return int(digits[:16], 16), int(digits[16:], 16)


def hashes(client: Client) -> list[Any]:
    since = int((NOW - timedelta(days=1)).timestamp() * 1000)
    found = client.query(read_query("event_id_hashes"), parameters={"partition": 0, "since_ms": since})
    return sorted(found.result_rows)


def lookup(settings: Settings, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], list[CountedId]]:
    async def ask() -> dict[tuple[str, str], list[CountedId]]:
        client = await open_async_client(settings)
        try:
            return await ClickHouseSink(client).counted_ids(pairs)
        finally:
            await client.close()

    return asyncio.run(ask())


def test_counted_ids_are_migrated_with_where_and_when_and_found_after(
    database: Settings, migrate_only: MigrateOnly
) -> None:
    migrate_only(database, lambda ddl: ddl.name < "027_")  # a database at 026
    client = open_client(database)
    client.insert("ledger", rows(EVERY_KIND), column_names=since_025(COLUMNS))
    client.insert("ledger", rows([V7, UPPER], offset=100), column_names=since_025(COLUMNS))  # counted twice
    # An id event_ids holds that the ledger does not (a row copied in by hand, as an operator might):
    # the migration copies event_ids itself, not what the ledger would give.
    client.command(
        "INSERT INTO event_ids SELECT customer_id, 'only-in-event-ids', occurred_at, source_partition, "
        "200, source_index, ingested_at FROM event_ids WHERE event_id = {e:String}",
        parameters={"e": V4},
    )
    before, hashed = client.query(COUNTED).result_rows, hashes(client)
    assert len(before) == len(EVERY_KIND) + 3
    # A row the ledger took while no view fed event_ids (the migration drops the old view first):
    # copied from the ledger once the new view runs.
    client.command("DELETE FROM event_ids WHERE event_id = {e:String}", parameters={"e": ODD[0]})

    assert "027_event_ids_uuid_halves.sql" in migrate(database, log=lambda _: None)
    assert client.query(COUNTED).result_rows == before
    assert hashes(client) == hashed
    tables = {r[0] for r in client.query("SHOW TABLES").result_rows}
    assert "event_ids_027" not in tables and "event_ids_from_ledger" in tables
    engine = client.query(
        "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'event_ids'"
    ).result_rows[0][0]
    assert "index_granularity = 1024" in engine and "materialize_statistics_on_merge = 0" in engine
    stored = client.query(
        "SELECT event_id, event_id_other, uuid_high, uuid_low FROM event_ids FINAL WHERE source_offset < 100"
    ).result_rows
    kept = {event_id: (other, high, low) for event_id, other, high, low in stored}
    assert kept[V7] == ("", *halves(V7)) and kept[V4] == ("", *halves(V4)) and kept[NIL] == ("", 0, 0)
    assert kept[UPPER] == (UPPER, *halves(V4))  # the twin's halves, told apart by its text
    assert all(kept[i] == (i, 0, 0) for i in [BRACED, *ODD])

    found = lookup(database, [("acme", i) for i in [*EVERY_KIND, "only-in-event-ids", "never-sent"]])
    assert set(found) == {("acme", i) for i in [*EVERY_KIND, "only-in-event-ids"]}
    assert sorted(split_position(c.position)[0] for c in found[("acme", V7)]) == [0, 100]
    assert [c.occurred_at_us for c in found[("acme", NIL)]] == [(AT - EPOCH) // timedelta(microseconds=1)]


def test_a_row_written_since_is_counted_by_the_new_view_and_found(
    database: Settings, migrate_only: MigrateOnly
) -> None:
    migrate_only(database, lambda ddl: ddl.name < "027_")
    client = open_client(database)
    client.insert("ledger", rows([V7]), column_names=since_025(COLUMNS))
    migrate(database, log=lambda _: None)
    later = new_event_id(AT + timedelta(seconds=1), random.Random(3))
    client.insert("ledger", rows([later, "plain-id"], offset=10), column_names=since_025(COLUMNS))

    counted = client.query(COUNTED).result_rows
    assert [(r[1], r[4]) for r in counted] == [(V7, 0), (later, 10), ("plain-id", 11)]
    found = lookup(database, [("acme", V7), ("acme", later), ("acme", "plain-id"), ("globex", later)])
    assert set(found) == {("acme", V7), ("acme", later), ("acme", "plain-id")}  # another customer's is not


def test_an_upper_case_uuid_and_its_lower_case_twin_are_two_ids(database: Settings) -> None:
    migrate(database, log=lambda _: None)
    client = open_client(database)
    client.insert("ledger", rows([UPPER]), column_names=since_025(COLUMNS))
    assert set(lookup(database, [("acme", V4), ("acme", UPPER)])) == {("acme", UPPER)}
    client.insert("ledger", rows([V4], offset=1), column_names=since_025(COLUMNS))
    found = lookup(database, [("acme", V4), ("acme", UPPER)])
    assert {pair: [split_position(c.position)[0] for c in where] for pair, where in found.items()} == {
        ("acme", UPPER): [0],
        ("acme", V4): [1],
    }


def test_a_worker_of_before_the_migration_still_finds_every_id(database: Settings) -> None:
    migrate(database, log=lambda _: None)
    client = open_client(database)
    client.insert("ledger", rows(EVERY_KIND), column_names=since_025(COLUMNS))
    asked = [*EVERY_KIND, V4.replace("0b7e", "ffff")]
    data = "".join(f"acme\t{i}\n" for i in asked).replace("\\", "\\\\").encode()
    candidates = ExternalData(
        file_name="candidates",
        data=data,
        fmt="TabSeparated",
        structure=["customer_id String", "event_id String"],
    )
    found = client.query(OLD_LOOKUP, external_data=candidates).result_rows
    assert sorted((r[1], r[2]) for r in found) == sorted((i, n) for n, i in enumerate(EVERY_KIND))
