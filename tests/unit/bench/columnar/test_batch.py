"""The floor's columns price a batch exactly as the worker does, and leave it every dead letter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bench.columnar.batch import BatchColumns, decode_and_price_columns
from bench.columnar.blocks import ledger_block
from bench.workload import events, pack
from schemas.money import to_pico
from schemas.prices import load_price_dir
from streams.column_pricing import RateBook
from streams.decoding import TimeBounds
from streams.intake import decode_and_price
from streams.pricing import PriceCatalog
from streams.processor import RawMessage
from streams.sinks.native_block import column_header
from streams.sinks.table_columns import LEDGER_TYPES
from tests.factories import DAY, PRICES, usage

NOW = datetime(2026, 12, 5, tzinfo=UTC)
BOUNDS = TimeBounds(max_age_s=2 * 86_400.0, max_future_s=300.0)
RECEIVED_MS = int((DAY + timedelta(days=1)).timestamp() * 1000)
# The list prices, and the demo's change of two of them at noon of the sample day.
CATALOG = PriceCatalog([*load_price_dir(PRICES), *load_price_dir(PRICES / "demo")])


def message(offset: int, key: bytes, value: bytes | list[dict[str, Any]]) -> RawMessage:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    return RawMessage("usage", 2, offset, key, raw, RECEIVED_MS)


def fleet() -> list[RawMessage]:
    """The benchmark's fleet over the sample day (every kind, both price versions), 20 events a message."""
    packed = pack(events(600, customers=8, agents=3, span_s=86_000.0, start=DAY), 20)
    return [message(i, key, value) for i, (key, value) in enumerate(packed)]


def odd(first: int) -> list[RawMessage]:
    """Messages the columns decline, each for another reason: the worker's path decides them."""
    at = DAY + timedelta(hours=5)
    good = usage("fine", at=at, customer="acme")
    twice = orjson.dumps([good]).replace(b'"kind"', b'"agent_id":"x","kind"', 1)  # a key sent twice
    return [
        message(first, b"acme", [good, usage("other", at=at, customer="globex")]),  # wrong key
        message(first + 1, b"acme", b"{not json"),
        message(first + 2, b"acme", b"[]"),
        message(first + 3, b"acme", [good | {"kind": "teleport"}]),  # unknown kind
        message(first + 4, b"acme", [{k: v for k, v in good.items() if k != "agent_id"}]),  # missing field
        message(first + 5, b"acme", [good | {"calls": "3"}]),  # a count as text
        message(first + 6, b"acme", [usage("pigeon", at=at, customer="acme", tool="carrier-pigeon")]),
        message(first + 7, b"acme", twice),
        message(first + 8, b"acme", [usage("late", at=DAY - timedelta(days=3), customer="acme")]),
        message(first + 9, b"acme", [usage("tier", "llm", at=at, customer="acme", service_tier="flex")]),
        message(first + 10, b"acme", [good | {"event_id": "esc\\u0061ped"}]),
    ]


def priced_rows(columns: BatchColumns) -> dict[tuple[int, int], tuple[Any, ...]]:
    """Each counted event's cost, quantity and price columns, by (partition, position)."""
    rows = {}
    for i in range(columns.fast):
        kind, provider, sku, model_sent, unit, version = columns.combos[int(columns.combo[i])]
        rows[(int(columns.partition[i]), int(columns.position[i]))] = (
            int(columns.cost[i]), int(columns.quantity[i]), kind, provider, sku, model_sent, unit, version,
            columns.customers[i], columns.agents[i], columns.event_ids[i], int(columns.occurred_us[i]),
            tuple(int(t) for t in columns.tokens[i]),
        )  # fmt: skip
    for partition, position, priced in columns.slow:
        rows[(partition, position)] = _worker_row(priced)
    return rows


def _worker_row(priced: Any) -> tuple[Any, ...]:
    event, tokens = priced.event, priced.tokens
    occurred_us = (event.occurred_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return (
        to_pico(priced.cost), to_pico(priced.quantity), priced.category, priced.provider, priced.sku,
        priced.model_sent, priced.unit, priced.price_version, event.customer_id, event.agent_id,
        event.event_id, occurred_us,
        (tokens.input, tokens.cached_input, tokens.cache_write, tokens.output, tokens.reasoning),
    )  # fmt: skip


def test_the_fleet_is_priced_in_columns_to_the_worker_s_costs_every_one_on_the_columnar_path() -> None:
    messages = fleet()
    floor = decode_and_price_columns(messages, RateBook(CATALOG), BOUNDS, NOW)
    counted, dead = decode_and_price(messages, CATALOG, BOUNDS, NOW)
    assert floor.slow_messages == 0 and not floor.dead and not dead
    assert len(floor.columns) == len(counted) == 600
    assert priced_rows(floor.columns) == {(p, pos): _worker_row(priced) for p, pos, priced in counted}
    assert len({combo[-1] for combo in floor.columns.combos} - {""}) == 2  # both versions of the day


def test_odd_messages_take_the_worker_s_path_and_their_dead_letters_come_in_message_order() -> None:
    messages = fleet()[:5] + odd(first=5)
    floor = decode_and_price_columns(messages, RateBook(CATALOG), BOUNDS, NOW)
    counted, dead = decode_and_price(messages, CATALOG, BOUNDS, NOW)
    assert floor.slow_messages == 11
    assert priced_rows(floor.columns) == {(p, pos): _worker_row(priced) for p, pos, priced in counted}
    assert [(d.code, d.source_offset, d.source_index, d.reason) for d in floor.dead] == [
        (d.code, d.source_offset, d.source_index, d.reason) for d in dead
    ]
    assert [d.code.value for d in floor.dead] == [
        "wrong_key", "malformed_json", "empty_message", "invalid_event", "invalid_event", "invalid_event",
        "unpriceable", "malformed_json", "out_of_bounds",
    ]  # fmt: skip


def test_the_fleet_s_ledger_block_names_every_column_the_worker_s_sink_writes() -> None:
    floor = decode_and_price_columns(fleet(), RateBook(CATALOG), BOUNDS, NOW)
    written = ledger_block(floor.columns, NOW)
    assert all(column_header(name, kind) in written for name, kind in LEDGER_TYPES.items())
