"""Window snapshots written by the sink read back whole from the real, migrated ``cost_windows``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from costline.clickhouse import open_async_client
from costline.config import Settings
from costline.dev.harness import Pipeline
from schemas.prices import load_price_dir
from streams.aggregation import Counted, WindowAggregate, WindowKey, fold, position
from streams.dedup import CountedId
from streams.intake import decode_and_price
from streams.pricing import PriceCatalog
from streams.processor import _micros
from streams.sinks import clickhouse_sink
from streams.sinks.clickhouse_sink import WINDOW_COLUMNS, ClickHouseSink
from streams.window_batch import EventColumns, fold_plan, plan_windows
from streams.window_changes import WindowChanges
from tests.factories import PRICES, event, window_with_every_field
from tests.unit.streams.test_intake_columns import BOUNDS
from tests.unit.streams.test_intake_columns import NOW as INTAKE_NOW
from tests.unit.streams.test_intake_columns import fleet as intake_fleet


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


LAST = datetime(2099, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)


def odd_batch() -> list[Counted]:
    """Events with every odd value a ledger row can hold, priced as the worker prices them, or by hand."""
    prices = PriceCatalog(load_price_dir(PRICES))
    llm = {"provider": "openai", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100}
    sent = [
        event("0b6f3c2e-8d4a-4f1e-9c3b-2a1d5e6f7a8b", "llm", **llm),  # a canonical UUID
        event("0B6F3C2E-8D4A-4F1E-9C3B-2A1D5E6F7A8B", "llm", **llm),  # its upper-case twin: not one
        event("naïve-ü-😀", "llm", service_tier="flex", **llm),
        event("batched", "llm", batch=True, **llm),
        event("ü" * 256, agent="агент-ü"),
        event("late"),
        event(
            "tagged",
            user_id="u-1",
            task_id="t" * 200,
            request_id="r-ü",
            attributes={"e": "", "k": "vä", "z": "1" * 200},
        ),
        event("won", "outcome", outcome_type="ticket_resolved", value="12.345678901234"),
        event("lost", "outcome", outcome_type="ticket_resolved", value="-0", success=False),
        event("plain", "outcome", outcome_type="ticket_resolved"),
        event(
            "fix",
            "correction",
            corrects="batched",
            corrected_kind="llm",
            run_id="run-1",
            reason="a price fix",
            cost_delta="-0.000000000001",
            sku="gpt-4o",
        ),
    ]
    counted = [(3, position(1 << 40, n), prices.price(e)) for n, e in enumerate(sent)]
    # The first and last microsecond a time column holds (no price was in force then).
    for (_, _, priced), at in zip(
        counted[4:6], [datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC), LAST], strict=True
    ):
        priced.event = priced.event.model_copy(update={"occurred_at": at})
    # Amounts no price gives: the largest a Decimal(38, 12) holds, its negative, -0; quantities finer
    # than the scale (truncated, as the library truncates).
    largest = "99999999999999999999999999.999999999999"
    odd = [(largest, largest), ("-" + largest, "1E-13"), ("-0", "-0"), ("0E-12", "-0.0000000000019")]
    for (_, _, priced), (cost, quantity) in zip(counted, odd, strict=False):
        priced.cost, priced.cost_pico, priced.quantity = Decimal(cost), None, Decimal(quantity)
    # Many agents: a LowCardinality dictionary past 256 keys, with indexes two bytes wide.
    many = [event(f"agent-{n}", agent=f"bot-{n}") for n in range(300)]
    counted += [(0, position(n, 65_535), prices.price(e)) for n, e in enumerate(many)]
    return counted


def stored(p: Pipeline, table: str, order: str) -> bytes:
    return p.db.raw_query(f"SELECT * FROM {table} ORDER BY {order} FORMAT RowBinary")


@pytest.mark.parametrize(("compression", "block_rows"), [(None, 1_000), ("lz4", 64)])
def test_native_blocks_store_the_very_bytes_the_library_stores(
    migrated: Pipeline, compression: str | None, block_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Blocks of 64 rows: an insert of several blocks, each with its own dictionaries.
    monkeypatch.setattr(clickhouse_sink, "BLOCK_ROWS", block_rows)
    now = datetime(2026, 11, 20, 9, 0, 0, 123_456, tzinfo=UTC)
    counted = odd_batch()
    windows = fold(counted, (60, 3600), {}).changed
    windows[WindowKey("acme", "*", "llm", 60, 0)] = window_with_every_field(5)
    for table in ("ledger", "cost_windows"):
        for way in ("library", "native"):
            migrated.db.command(f"CREATE OR REPLACE TABLE {table}_{way} AS {table}")

    async def write_both() -> None:
        client = await open_async_client(migrated.settings)
        for way in ("library", "native"):
            sink = ClickHouseSink(client, native=way == "native")
            sink.compression = compression
            await sink.write_ledger(counted, now, f"_{way}")
            await sink.write_windows(windows, now, f"_{way}")
        await client.close()

    asyncio.run(write_both())
    ledger = "source_partition, source_offset, source_index"
    assert migrated.scalar("SELECT count() FROM ledger_native") == len(counted)
    assert stored(migrated, "ledger_native", ledger) == stored(migrated, "ledger_library", ledger)
    windows_order = "customer_id, window_size, window_start, agent_id, category"
    assert migrated.scalar("SELECT count() FROM cost_windows_native") == len(windows)
    assert stored(migrated, "cost_windows_native", windows_order) == stored(
        migrated, "cost_windows_library", windows_order
    )


def test_a_table_laid_out_otherwise_is_written_through_the_library(migrated: Pipeline) -> None:
    # A migration the Native writers do not know (a narrower counter): the sink falls back,
    # and the windows' pico-dollar costs still land as dollars.
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    windows = {WindowKey("acme", "bot", "llm", 60, 1_763_632_800): window_with_every_field(7)}
    migrated.db.command("CREATE OR REPLACE TABLE cost_windows_other AS cost_windows")
    migrated.db.command("ALTER TABLE cost_windows_other MODIFY COLUMN failed_outcomes UInt32")

    async def write() -> None:
        client = await open_async_client(migrated.settings)
        await ClickHouseSink(client).write_windows(windows, now, "_other")
        await client.close()

    asyncio.run(write())
    [(cost, failed)] = migrated.rows("SELECT cost, failed_outcomes FROM cost_windows_other")
    expected = window_with_every_field(7)
    assert cost == Decimal(expected.cost).scaleb(-12) and failed == expected.failed_outcomes


@pytest.mark.parametrize("block_rows", [1_000, 64])
def test_the_workers_columns_store_the_very_rows_the_library_stores(
    migrated: Pipeline, block_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's path: the ledger block from intake's columns (the price group from its codes, with
    every combination's values in each block's dictionaries; customers and agents from the plan's
    codes) and the windows' from their key codes, against the library's insert of the same rows."""
    monkeypatch.setattr(clickhouse_sink, "BLOCK_ROWS", block_rows)
    now = datetime(2026, 12, 5, 9, 0, 0, 123_456, tzinfo=UTC)
    messages = intake_fleet(0)  # 300 events: several blocks of 64, or one
    counted, _ = decode_and_price(messages, PriceCatalog(load_price_dir(PRICES)), BOUNDS, INTAKE_NOW)
    batch = EventColumns.of(counted)
    plan = plan_windows(batch, (60, 3600))
    result = fold_plan(plan, [None] * len(plan.keys))
    assert result is not None and type(result.changed) is WindowChanges
    assert batch.customer_codes is not None and batch.ledger.price_codes is not None
    for table in ("ledger", "cost_windows"):
        for way in ("library", "native"):
            migrated.db.command(f"CREATE OR REPLACE TABLE {table}_{way} AS {table}")

    async def write_both() -> None:
        client = await open_async_client(migrated.settings)
        native, library = ClickHouseSink(client), ClickHouseSink(client, native=False)
        await native.write_ledger(counted, now, "_native", columns=batch)
        await native.write_windows(result.changed, now, "_native")
        await library.write_ledger(list(counted), now, "_library")
        await library.write_windows(dict(result.changed.objects()), now, "_library")
        await client.close()

    asyncio.run(write_both())
    ledger = "source_partition, source_offset, source_index"
    assert migrated.scalar("SELECT count() FROM ledger_native") == len(counted)
    assert stored(migrated, "ledger_native", ledger) == stored(migrated, "ledger_library", ledger)
    windows_order = "customer_id, window_size, window_start, agent_id, category"
    assert migrated.scalar("SELECT count() FROM cost_windows_native") == len(result.changed)
    assert stored(migrated, "cost_windows_native", windows_order) == stored(
        migrated, "cost_windows_library", windows_order
    )


def test_a_batch_past_one_inserts_rows_goes_in_as_several_inserts_of_its_blocks(
    migrated: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More rows than an insert takes (a batch of many-event messages): the blocks already built go
    in a run at a time, never cut again row by row (which built every row's event object)."""
    monkeypatch.setattr(clickhouse_sink, "BLOCK_ROWS", 64)
    monkeypatch.setattr(clickhouse_sink, "MAX_ROWS_PER_INSERT", 128)  # 300 events: 3 inserts

    def row_by_row(item: object) -> datetime:
        raise AssertionError("a batch within the months an insert spans was cut row by row")

    occurred_at = clickhouse_sink._BY_OCCURRED_AT
    monkeypatch.setattr(clickhouse_sink, "_BY_OCCURRED_AT", (*occurred_at[:2], row_by_row))
    now = datetime(2026, 12, 5, 9, 0, 0, 123_456, tzinfo=UTC)
    counted, _ = decode_and_price(intake_fleet(0), PriceCatalog(load_price_dir(PRICES)), BOUNDS, INTAKE_NOW)
    batch = EventColumns.of(counted)
    for way in ("library", "native"):
        migrated.db.command(f"CREATE OR REPLACE TABLE ledger_{way} AS ledger")
    inserts: list[int] = []

    async def write_both() -> None:
        client = await open_async_client(migrated.settings)
        native = ClickHouseSink(client)
        send = native._send_native

        async def counting(table: str, types: Any, packed: Any) -> None:
            inserts.append(len(await packed))
            await send(table, types, packed)

        monkeypatch.setattr(native, "_send_native", counting)
        await native.write_ledger(counted, now, "_native", columns=batch)
        await ClickHouseSink(client, native=False).write_ledger(list(counted), now, "_library")
        await client.close()

    asyncio.run(write_both())
    assert inserts == [3]
    ledger = "source_partition, source_offset, source_index"
    assert migrated.scalar("SELECT count() FROM ledger_native") == len(counted) == 300
    assert stored(migrated, "ledger_native", ledger) == stored(migrated, "ledger_library", ledger)
