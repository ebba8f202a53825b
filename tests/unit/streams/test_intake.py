"""A batch's messages become priced events and dead letters, its columns taken on the way."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pytest

from bench.workload import events, pack
from schemas.prices import load_price_dir
from streams.decoding import TimeBounds
from streams.intake import decode_and_price
from streams.pricing import PriceCatalog
from streams.processor import RawMessage
from streams.window_batch import CountedBatch, EventColumns
from tests.factories import DAY, PRICES, usage

# Every test runs against the Python decoder and the native one (tests/unit/streams/conftest.py).
pytestmark = pytest.mark.usefixtures("wire_decoder")

NOW = datetime(2026, 12, 5, tzinfo=UTC)
BOUNDS = TimeBounds(max_age_s=3600.0, max_future_s=300.0)
RECEIVED_MS = int((DAY + timedelta(minutes=30)).timestamp() * 1000)  # the fleet's events are in bounds


def message(offset: int, key: bytes, value: bytes | list[dict[str, Any]]) -> RawMessage:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    return RawMessage("usage", 3, offset, key, raw, RECEIVED_MS)


def fleet_messages() -> list[RawMessage]:
    """The benchmark's fleet (every kind), 20 events a message, as the SDK sends them."""
    packed = pack(events(400, customers=8, agents=3, span_s=600.0), 20)
    return [message(i, key, value) for i, (key, value) in enumerate(packed)]


def odd_messages(first: int) -> list[RawMessage]:
    """Messages off the fast path, or with events that fail on it, each failure in its place."""
    at = DAY + timedelta(minutes=5)
    acme = [
        usage("ok-1", at=at, customer="acme"),
        usage("other", at=at, customer="globex"),  # not the key's customer
        usage("fix", "correction", at=at, customer="acme", corrects="ok-1", corrected_kind="tool",
              run_id="run-1", reason="a price fix", cost_delta="-0.001", sku="twilio-sms"),
        usage("pigeon", at=at, customer="acme", tool="carrier-pigeon"),  # no price
        usage("tier", "llm", at=at, customer="acme", service_tier="flex"),  # pydantic's to read
        usage("late", at=DAY - timedelta(days=2), customer="acme"),  # before the bounds
        {"kind": "tool", "event_id": "bad"},  # not an event
        usage("ok-2", at=at, customer="acme"),
    ]  # fmt: skip
    return [
        message(first, b"acme", acme),
        message(first + 1, b"acme", b"{not json"),
        message(first + 2, b"acme", orjson.dumps(usage("alone", at=at, customer="acme"))),
        # Every event on the fast path, one of them past the future bound.
        message(first + 3, b"acme", [usage("soon", at=at), usage("ahead", at=DAY + timedelta(hours=2))]),
    ]


def column_values(columns: EventColumns) -> dict[str, Any]:
    return {
        name: (
            value.tolist() if isinstance(value, np.ndarray) else None if value is None else list(value)
        )  # None: codes a later stage fills (plan_windows)
        for name in EventColumns.__slots__
        if name not in ("counted", "utc_times")  # the batch's, not a column
        for value in [getattr(columns, name)]
    }


def test_the_columns_taken_while_pricing_are_those_read_from_the_events() -> None:
    messages = fleet_messages()
    messages += odd_messages(len(messages))
    counted, dead = decode_and_price(messages, PriceCatalog(load_price_dir(PRICES)), BOUNDS, NOW)
    assert type(counted) is CountedBatch and counted.columns is not None
    taken = counted.columns
    assert EventColumns.of(counted) is taken
    walked = EventColumns.of(list(counted))  # a plain list: read from the events, field by field
    assert walked is not taken
    assert column_values(taken) == column_values(walked)
    assert "correction" in taken.kinds and "tool" in taken.categories
    assert len(dead) == 6


def test_the_columns_are_handed_over_once_so_a_batch_and_its_columns_hold_no_cycle() -> None:
    # The worker collects cycles rarely (streams.garbage_collection): a batch and its columns
    # holding each other kept every batch's events alive, and the worker's memory grew with them.
    counted, _ = decode_and_price(fleet_messages(), PriceCatalog(load_price_dir(PRICES)), BOUNDS, NOW)
    columns = EventColumns.of(counted)
    assert counted.columns is None and columns.counted is counted
    gone = weakref.ref(counted)
    gc.disable()
    try:
        del counted, columns
        assert gone() is None  # freed by reference counting alone, no collection needed
    finally:
        gc.enable()


def test_dead_letters_keep_their_messages_order_and_the_rest_is_counted() -> None:
    counted, dead = decode_and_price(odd_messages(10), PriceCatalog(load_price_dir(PRICES)), BOUNDS, NOW)
    assert [(d.source_offset, d.source_index, d.code) for d in dead] == [
        (10, 1, "wrong_key"),
        (10, 3, "unpriceable"),
        (10, 5, "out_of_bounds"),
        (10, 6, "invalid_event"),
        (11, 0, "malformed_json"),
        (13, 1, "out_of_bounds"),
    ]
    assert [priced.event.event_id for _, _, priced in counted] == [
        "ok-1",
        "fix",
        "tier",
        "ok-2",
        "alone",
        "soon",
    ]
    assert [pos for _, pos, _ in counted] == [
        10 << 16,
        10 << 16 | 2,
        10 << 16 | 4,
        10 << 16 | 7,
        12 << 16,
        13 << 16,
    ]
    assert all(d.value for d in dead)  # each the event's own bytes


def test_a_slice_of_a_batch_has_its_columns_read_again() -> None:
    counted, _ = decode_and_price(fleet_messages(), PriceCatalog(load_price_dir(PRICES)), BOUNDS, NOW)
    part = counted[5:50]
    assert type(part) is list
    assert EventColumns.of(part).positions.tolist() == [pos for _, pos, _ in part]
