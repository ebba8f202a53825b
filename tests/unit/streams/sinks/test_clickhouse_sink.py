"""Ledger and window rows, their columns and the snapshot query follow the models and the migrations."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import clickhouse_connect.driver.exceptions as ch
import pytest
from clickhouse_connect.datatypes.registry import get_from_name

from costline.clickhouse import SQL_DIR
from schemas.events import MEDIA_TOKENS
from schemas.prices import load_price_dir
from streams.aggregation import (
    AGGREGATE_COLUMNS,
    AGGREGATE_FIELDS,
    KEY_COLUMNS,
    PICO_COLUMNS,
    Counted,
    WindowAggregate,
    WindowKey,
    fold,
    position,
)
from streams.pricing import PriceCatalog
from streams.sinks.clickhouse_sink import (
    LEDGER_COLUMNS,
    WINDOW_COLUMNS,
    WINDOW_SNAPSHOTS,
    ClickHouseSink,
    ledger_row,
    window_row,
)
from streams.sinks.table_columns import LEDGER_TYPES, WINDOW_TYPES, window_columns
from streams.window_batch import EventColumns
from tests.factories import AUDIO_PRICES as AUDIO
from tests.factories import PRICES, event
from tests.factories import llm_call as call

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_CREATE = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)\s*\((.*?)\)\s*ENGINE", re.S)
_ADD_COLUMN = re.compile(r"ALTER TABLE (\w+)\s+ADD COLUMN (?:IF NOT EXISTS )?(\w+) ([^,;\n]+)")
_COLUMN_START = re.compile(r",\n(?=    [A-Za-z_])")
_EXCHANGE = re.compile(r"EXCHANGE TABLES (\w+) AND (\w+)")
_MODIFY_COLUMN = re.compile(r"ALTER TABLE (\w+)\s+MODIFY COLUMN (\w+) ([^;]+?)\s*(?:SETTINGS [^;]*)?(?:;|$)")
# Where a column's type ends in its definition.
_AFTER_TYPE = re.compile(r" (?:DEFAULT|MATERIALIZED|EPHEMERAL|ALIAS|CODEC)\b.*", re.S)


def migrated_columns(table: str) -> dict[str, str]:
    """``table``'s columns and types once every migration in ``sql/ddl`` has run."""
    tables: dict[str, dict[str, str]] = {}
    for path in sorted((SQL_DIR / "ddl").glob("*.sql")):
        ddl = re.sub(r"--[^\n]*", "", path.read_text())
        for name, body in _CREATE.findall(ddl):
            columns = tables.setdefault(name, {})
            # A column starts a line at the body's indent; its DEFAULT may go on over several.
            for line in _COLUMN_START.split(body.strip()):
                column, kind = line.split(None, 1)
                columns[column] = kind.strip()
        for name, column, kind in _ADD_COLUMN.findall(ddl):
            tables.setdefault(name, {})[column] = kind.strip()
        for name, column, kind in _MODIFY_COLUMN.findall(ddl):
            tables.setdefault(name, {})[column] = kind.strip()
        # A table laid out again is filled, then swapped in under the old name.
        for one, other in _EXCHANGE.findall(ddl):
            tables[one], tables[other] = tables.get(other, {}), tables.get(one, {})
    return tables.get(table, {})


def test_every_window_field_has_a_cost_windows_column_of_its_type() -> None:
    columns = migrated_columns("cost_windows")
    assert set(WINDOW_COLUMNS) <= set(columns)
    for column, kind in zip(AGGREGATE_COLUMNS, AGGREGATE_FIELDS.values(), strict=True):
        # Money is held as pico-dollar ints and written to its USD column's units.
        expected = "Decimal(38, 12)" if kind is Decimal or column in PICO_COLUMNS else "UInt"
        assert columns[column].startswith(expected), (column, columns[column])


def test_a_window_row_lines_up_with_its_columns() -> None:
    key = WindowKey("acme", "bot", "llm", 3600, 1_763_632_800)
    agg = WindowAggregate(cost=500_000_000_000, events=2, failed_outcomes=1, last_offset=77, partition=3)
    row = dict(zip(WINDOW_COLUMNS, window_row(key, agg, NOW), strict=True))
    assert row["customer_id"] == "acme" and row["agent_id"] == "bot" and row["category"] == "llm"
    assert row["window_size"] == 3600 and row["window_start"] == datetime(2025, 11, 20, 10, tzinfo=UTC)
    assert (row["cost"], row["events"], row["failed_outcomes"]) == (500_000_000_000, 2, 1)  # $0.50 in pico
    assert (row["version"], row["source_partition"], row["updated_at"]) == (77, 3, NOW)


def test_the_snapshot_query_selects_the_key_then_every_field_in_order() -> None:
    select = WINDOW_SNAPSHOTS.split("SELECT", 1)[1].split("FROM", 1)[0]
    selected = [column.strip() for column in select.split(",")]
    assert selected == [*KEY_COLUMNS[:4], "toUnixTimestamp(window_start)", *AGGREGATE_COLUMNS]


def test_every_ledger_column_is_migrated() -> None:
    assert set(LEDGER_COLUMNS) <= set(migrated_columns("ledger"))
    assert all(migrated_columns("ledger")[name].startswith("UInt64") for name in MEDIA_TOKENS)


def test_the_native_writer_knows_every_ledger_columns_migrated_type() -> None:
    # Else the sink writes the ledger through clickhouse-connect, several times the CPU.
    migrated = {name: _AFTER_TYPE.sub("", kind) for name, kind in migrated_columns("ledger").items()}
    assert {name: migrated[name] for name in LEDGER_TYPES} == LEDGER_TYPES


def test_a_ledger_row_keeps_an_llm_calls_audio_and_image_tokens() -> None:
    sent = call(
        "openai/gpt-4o-audio-preview",
        input_tokens=10_000,
        cached_input_tokens=3_000,
        input_audio_tokens=6_000,
        cached_audio_input_tokens=2_000,
        output_tokens=2_000,
        output_audio_tokens=1_500,
    )
    priced = PriceCatalog([AUDIO]).price(sent)
    row = dict(zip(LEDGER_COLUMNS, ledger_row(0, 7, priced, NOW), strict=True))
    assert [row[name] for name in MEDIA_TOKENS] == [6_000, 2_000, 1_500, 0, 0, 0]
    assert (row["input_tokens"], row["cached_input_tokens"], row["output_tokens"]) == (10_000, 3_000, 2_000)


class _Server:
    """A ClickHouse that describes the tables as migrated and takes each insert in ``seconds``,
    refusing those into ``refused``; ``seen`` is what happened, in order."""

    def __init__(self, seconds: float = 0.05, refused: str = "") -> None:
        self.seconds, self.refused = seconds, refused
        self.seen: list[str] = []
        self.bodies: list[bytes] = []
        self.settings: list[dict[str, Any]] = []

    async def create_insert_context(self, table: str, columns: list[str]) -> SimpleNamespace:
        types = WINDOW_TYPES if table == "cost_windows" else LEDGER_TYPES
        return SimpleNamespace(column_types=[get_from_name(types[name]) for name in columns])

    async def raw_insert(
        self, table: str, columns: list[str], insert_block: bytes, settings: dict[str, Any], **_: object
    ) -> None:
        self.settings.append(settings)
        self.seen.append(f"{table} sent")
        self.bodies.append(insert_block)
        await asyncio.sleep(self.seconds)
        if table == self.refused:
            raise ch.DatabaseError("Code: 469. Constraint `positive` is violated", code=469)
        self.seen.append(f"{table} stored")


def _a_batch() -> tuple[list[Counted], dict[WindowKey, WindowAggregate]]:
    prices = PriceCatalog(load_price_dir(PRICES))
    counted = [(0, position(n, 0), prices.price(event(f"t-{n}"))) for n in range(3)]
    return counted, fold(counted, (60,), {}).changed


async def test_the_windows_are_encoded_while_the_ledgers_insert_is_under_way_and_sent_once_it_is_stored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = _Server()

    def encoded(*args: Any) -> Any:
        server.seen.append("cost_windows encoded")
        return window_columns(*args)

    monkeypatch.setattr("streams.sinks.clickhouse_sink.window_columns", encoded)
    counted, windows = _a_batch()
    await ClickHouseSink(server).write(counted, windows, columns=EventColumns.of(counted))  # type: ignore[arg-type]
    assert server.seen == [
        "ledger sent",
        "cost_windows encoded",
        "ledger stored",
        "cost_windows sent",
        "cost_windows stored",
    ]


async def test_inserts_leave_folding_rows_to_the_background_merges() -> None:
    # Each block holds one row a key, so a merge of the block on insert would only cost CPU.
    server = _Server(seconds=0)
    await ClickHouseSink(server).write(*_a_batch())  # type: ignore[arg-type]
    assert server.settings == [{"optimize_on_insert": 0}] * 2  # the ledger's insert and the windows'


async def test_no_window_is_sent_when_the_ledger_refuses_the_batchs_rows() -> None:
    # A window stored with an event whose ledger row is refused could outlive its rewrite without it.
    server = _Server(refused="ledger")
    with pytest.raises(ch.DatabaseError):
        await ClickHouseSink(server).write(*_a_batch())  # type: ignore[arg-type]
    assert server.seen == ["ledger sent"]


class _Frozen(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _Frozen:
        return cls(2026, 11, 20, 12, 0, tzinfo=tz)


async def test_the_processors_columns_of_other_events_than_the_ledgers_are_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("streams.sinks.clickhouse_sink.datetime", _Frozen)  # one ingested_at
    counted, _ = _a_batch()
    given, own = _Server(seconds=0), _Server(seconds=0)
    await ClickHouseSink(given).write(counted[:1], {}, columns=EventColumns.of(counted))  # type: ignore[arg-type]
    await ClickHouseSink(own).write(counted[:1], {})  # type: ignore[arg-type]
    assert given.bodies == own.bodies and len(own.bodies) == 1
