"""Window snapshots written by the sink read back whole from the real, migrated ``cost_windows``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from costline.clickhouse import open_async_client
from costline.config import Settings
from costline.dev.harness import Pipeline
from schemas.prices import load_price_dir
from streams.aggregation import WindowAggregate, WindowKey, position
from streams.dedup import CountedId
from streams.pricing import PriceCatalog
from streams.processor import _micros
from streams.sinks.clickhouse_sink import WINDOW_COLUMNS, ClickHouseSink
from tests.factories import event, window_with_every_field


@pytest.fixture(scope="module")
def migrated(services: Settings) -> Iterator[Pipeline]:
    p = Pipeline.create(services, "sink", partitions=1)
    yield p
    p.close()


def test_the_migrated_table_has_every_window_column(migrated: Pipeline) -> None:
    described = {row[0] for row in migrated.db.query("DESCRIBE TABLE cost_windows").result_rows}
    assert set(WINDOW_COLUMNS) <= described


def test_a_snapshot_reads_back_as_the_newest_version_written(migrated: Pipeline) -> None:
    windows = {
        WindowKey("acme", "bot", "llm", 60, 1_763_632_800): window_with_every_field(1000),
        WindowKey("acme", "*", "llm", 3600, 1_763_632_800): window_with_every_field(2000),
    }
    older = {key: WindowAggregate(events=1, last_offset=5, partition=0) for key in windows}
    missing = WindowKey("acme", "bot", "llm", 60, 0)

    async def write_and_load() -> dict[WindowKey, WindowAggregate]:
        sink = ClickHouseSink(await open_async_client(migrated.settings))
        await sink.write((), older)
        await sink.write((), windows)
        return await sink.load_windows([*windows, missing])

    assert asyncio.run(write_and_load()) == windows


def test_ledger_rows_read_back_exactly_and_their_ids_are_found_again(migrated: Pipeline) -> None:
    # Ids with TabSeparated's escape and NULL marker, quotes and non-ASCII text; a cost finer
    # than a cent; a time to the microsecond; an outcome's value and a call without one.
    prices = PriceCatalog(load_price_dir(migrated.settings.prices_dir))
    ids = ["back\\slash", "\\N", "quote\"'", "naïve-ü-😀", "plain"]
    events = [event(event_id, at=datetime(2026, 11, 20, 9, 0, 0, 123_457, tzinfo=UTC)) for event_id in ids]
    events.append(event("won", "outcome", outcome_type="ticket_resolved", value="12.345678901234"))
    counted = [(0, position(n, 0), prices.price(e)) for n, e in enumerate(events)]
    expected = {
        (e.event_id, _micros(e.occurred_at), p.cost) for (_, _, p), e in zip(counted, events, strict=True)
    }

    async def write_and_find() -> dict[tuple[str, str], list[CountedId]]:
        sink = ClickHouseSink(await open_async_client(migrated.settings))
        await sink.write(counted, {})
        return await sink.counted_ids([("acme", i) for i in [*ids, "never-sent"]])

    found = asyncio.run(write_and_find())
    assert set(found) == {("acme", i) for i in ids}
    assert [c.occurred_at_us for i in ids for c in found[("acme", i)]] == [_micros(events[0].occurred_at)] * 5
    rows = migrated.rows(
        "SELECT event_id, toUnixTimestamp64Micro(occurred_at), cost, outcome_value FROM ledger FINAL"
    )
    assert {(r[0], r[1], r[2]) for r in rows} == expected
    assert {r[0]: r[3] for r in rows}["won"] == Decimal("12.345678901234")
    assert {r[0]: r[3] for r in rows}["plain"] is None
