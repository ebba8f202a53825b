"""The sink's ledger blocks name the stored columns (streams/sinks/ledger_stored.py) on the real, migrated
ClickHouse: the rows stored are byte for byte those the table's DEFAULTs make of the same rows written by
their ``*_sent`` columns, every stored column alike, and a batch holding an id in no canonical form is
written by its ``*_sent`` columns, as before."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from costline.clickhouse import open_async_client
from costline.config import Settings
from costline.dev.harness import Pipeline
from costline.event_id import new_event_id
from schemas.prices import load_price_dir
from streams.intake import decode_and_price
from streams.pricing import PriceCatalog
from streams.sinks import clickhouse_sink
from streams.sinks.clickhouse_sink import ClickHouseSink
from streams.sinks.table_columns import LEDGER_STORED_TYPES, LEDGER_TYPES
from streams.window_batch import EventColumns
from tests.e2e.test_clickhouse_sink import odd_batch
from tests.factories import PRICES
from tests.unit.streams.test_intake_columns import BOUNDS
from tests.unit.streams.test_intake_columns import NOW as INTAKE_NOW
from tests.unit.streams.test_intake_columns import fleet as intake_fleet

NOW = datetime(2026, 11, 20, 9, 0, 0, 123_456, tzinfo=UTC)
ORDER = "source_partition, source_offset, source_index"


@pytest.fixture(scope="module")
def migrated(services: Settings) -> Iterator[Pipeline]:
    p = Pipeline.create(services, "stored", partitions=1)
    yield p
    p.close()


def canonical(counted: list[Any], seed: int = 7) -> list[Any]:
    """``counted`` with every event's id a UUIDv7 of its own time in canonical form, and two
    UUIDs no v7 is (the nil one, every bit set)."""
    rng = random.Random(seed)
    for n, (_, _, priced) in enumerate(counted):
        event = priced.event
        event_id = new_event_id(event.occurred_at, rng)
        event_id = {0: "00000000-0000-0000-0000-000000000000", 1: "ffffffff-ffff-ffff-ffff-ffffffffffff"}.get(
            n, event_id
        )
        priced.event = event.model_copy(update={"event_id": event_id})
    return counted


def stored_rows(p: Pipeline, table: str) -> bytes:
    # SELECT * reads every stored column (no ALIAS, no EPHEMERAL), in table order.
    return p.db.raw_query(f"SELECT * FROM {table} ORDER BY {ORDER} FORMAT RowBinary")


def column_hashes(p: Pipeline, table: str) -> dict[str, int]:
    """Each stored column's hash over the rows in key order."""
    names = [
        name
        for name, kind in p.rows(
            f"SELECT name, default_kind FROM system.columns WHERE database = currentDatabase() "
            f"AND table = '{table}' ORDER BY position"
        )
        if kind not in ("ALIAS", "EPHEMERAL")
    ]
    hashes = ", ".join(f"cityHash64(groupArray(toString({name})))" for name in names)
    [row] = p.rows(f"SELECT {hashes} FROM (SELECT * FROM {table} ORDER BY {ORDER})")
    return dict(zip(names, row, strict=True))


def write_both_ways(
    migrated: Pipeline, counted: list[Any], batch: EventColumns | None
) -> dict[str, list[str]]:
    """``counted`` written by the sink (the stored columns where it can) into ledger_sink, and by the
    library by the ``*_sent`` columns into ledger_sent; the columns each native insert named."""
    for way in ("sink", "sent"):
        migrated.db.command(f"CREATE OR REPLACE TABLE ledger_{way} AS ledger")
    named: dict[str, list[str]] = {}

    async def write() -> None:
        client = await open_async_client(migrated.settings)
        sink = ClickHouseSink(client)
        sent = ClickHouseSink(client, native=False)
        original = sink._send_native

        async def spied(table: str, types: Mapping[str, str], packed: Any) -> None:
            named[table] = list(types)
            await original(table, types, packed)

        sink._send_native = spied  # type: ignore[method-assign]
        await sink.write_ledger(counted, NOW, "_sink", columns=batch)
        await sent.write_ledger(list(counted), NOW, "_sent")
        await client.close()

    asyncio.run(write())
    return named


@pytest.mark.parametrize("block_rows", [1_000, 64])
def test_every_odd_value_is_stored_as_the_defaults_store_it(
    migrated: Pipeline, block_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The largest amounts a Decimal(38, 12) holds and their negatives, costs past Int64's picos, -0,
    # the first and last microsecond the ledger holds, tiers, outcomes, a correction, 300 agents.
    monkeypatch.setattr(clickhouse_sink, "BLOCK_ROWS", block_rows)
    counted = canonical(odd_batch())
    named = write_both_ways(migrated, counted, None)
    assert named == {"ledger_sink": list(LEDGER_STORED_TYPES)}
    assert migrated.scalar("SELECT count() FROM ledger_sink") == len(counted)
    assert stored_rows(migrated, "ledger_sink") == stored_rows(migrated, "ledger_sent")
    assert column_hashes(migrated, "ledger_sink") == column_hashes(migrated, "ledger_sent")


@pytest.mark.parametrize("block_rows", [1_000, 64])
def test_the_workers_columns_are_stored_as_the_defaults_store_them(
    migrated: Pipeline, block_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's path: intake's columns, the price key from the combinations' codes."""
    monkeypatch.setattr(clickhouse_sink, "BLOCK_ROWS", block_rows)
    counted, _ = decode_and_price(intake_fleet(0), PriceCatalog(load_price_dir(PRICES)), BOUNDS, INTAKE_NOW)
    batch = EventColumns.of(counted)
    assert batch.ledger.price_codes is not None
    named = write_both_ways(migrated, counted, batch)
    assert named == {"ledger_sink": list(LEDGER_STORED_TYPES)}
    assert migrated.scalar("SELECT count() FROM ledger_sink") == len(counted)
    assert stored_rows(migrated, "ledger_sink") == stored_rows(migrated, "ledger_sent")
    assert column_hashes(migrated, "ledger_sink") == column_hashes(migrated, "ledger_sent")


@pytest.mark.parametrize(
    "odd_id",
    [
        "0B6F3C2E-8D4A-4F1E-9C3B-2A1D5E6F7A8B",
        "0b6f3c2e8d4a4f1e9c3b2a1d5e6f7a8b",
        "e-1",
        "naïve-ü-😀-00000000000",
    ],
)
def test_a_batch_with_an_id_in_no_canonical_form_is_written_by_its_sent_columns(
    migrated: Pipeline, odd_id: str
) -> None:
    # Upper case and undashed UUIDs are ones toUUIDOrZero reads; the server derives them.
    counted = canonical(odd_batch())
    _, _, priced = counted[5]
    priced.event = priced.event.model_copy(update={"event_id": odd_id})
    named = write_both_ways(migrated, counted, None)
    assert named == {"ledger_sink": list(LEDGER_TYPES)}
    assert stored_rows(migrated, "ledger_sink") == stored_rows(migrated, "ledger_sent")
