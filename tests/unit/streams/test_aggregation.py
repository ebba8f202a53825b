"""Windows fold each event once, however often a batch is replayed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

import pytest

from schemas.events import ToolCall
from schemas.money import from_pico, to_pico
from streams.aggregation import (
    AGGREGATE_COLUMNS,
    AGGREGATE_FIELDS,
    ALL_AGENTS,
    PICO_FIELDS,
    WindowAggregate,
    WindowKey,
    fold,
    is_expired,
    window_keys,
    window_start,
)
from streams.pricing import PricedEvent, TokenUsage
from tests.factories import window_with_every_field

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def priced(n: int, agent: str = "bot", at: datetime = T0, cost: str = "0.005") -> PricedEvent:
    event = ToolCall(
        kind="tool", event_id=f"e{n}", occurred_at=at, customer_id="acme", agent_id=agent, tool="search"
    )
    return PricedEvent(event, Decimal(cost), "v1", "search", "", Decimal(1), "calls", TokenUsage())


def test_events_land_in_agent_and_customer_windows_of_each_size() -> None:
    batch = [(0, 10, priced(1)), (0, 11, priced(2, agent="other", at=T0 + timedelta(seconds=61)))]
    result = fold(batch, (60, 3600), {})
    start = int(T0.timestamp())
    assert result.changed[WindowKey("acme", "bot", "tool", 60, start)].cost == 5_000_000_000  # $0.005 in pico
    assert result.changed[WindowKey("acme", "other", "tool", 60, start + 60)].events == 1
    hour = result.changed[WindowKey("acme", ALL_AGENTS, "tool", 3600, start)]
    assert (from_pico(hour.cost), hour.events, hour.last_offset) == (Decimal("0.010"), 2, 11)


def test_replaying_a_batch_changes_nothing() -> None:
    batch = [(3, o, priced(o)) for o in range(100, 110)]
    first = fold(batch, (60,), {})
    again = fold(batch, (60,), first.changed)
    assert again.changed == {} and again.skipped == 10 and again.folded == 0


def test_replay_that_overlaps_new_events_counts_only_the_new() -> None:
    first = fold([(3, o, priced(o)) for o in range(100, 105)], (60,), {})
    second = fold([(3, o, priced(o)) for o in range(103, 108)], (60,), first.changed)
    key = WindowKey("acme", "bot", "tool", 60, int(T0.timestamp()))
    assert second.changed[key].events == 8  # 5 + 105, 106, 107
    assert (second.folded, second.skipped) == (3, 2)


def test_state_round_trips_through_its_changelog_encoding() -> None:
    agg = WindowAggregate(cost=to_pico(Decimal("1.000000000001")), events=3, last_offset=42, partition=5)
    assert WindowAggregate.decode(agg.encode()) == agg
    key = WindowKey("acme", "bot", "llm", 60, 1_700_000_000)
    assert WindowKey.decode(key.encode()) == key


def test_every_field_round_trips_through_the_changelog_encoding() -> None:
    agg = window_with_every_field()
    assert WindowAggregate.decode(agg.encode()) == agg
    assert agg.copy() == agg and agg.copy() is not agg


def test_the_changelog_encoding_is_the_fields_in_declaration_order() -> None:
    # Restored changelogs hold this form: reordering fields is a migration of worker state.
    agg = WindowAggregate(
        cost=1_500_000_000_000, events=2, outcome_value=250_000_000_000, last_offset=7, partition=3
    )
    assert agg.encode() == b"p1500000000000,2,0,0,0,0,0,0,250000000000,0,7,3"
    assert agg.values() == tuple(getattr(agg, name) for name in AGGREGATE_FIELDS)


def test_a_changelog_written_by_the_previous_worker_restores_with_money_in_pico_dollars() -> None:
    # The first form: money as Decimal text in USD, no tag (the worker before pico-dollar windows).
    written_before = b"1.500000000000,2,1234,0,0,56,0,0,0.250000000001,1,7,3"
    assert WindowAggregate.decode(written_before) == WindowAggregate(
        cost=1_500_000_000_000,
        events=2,
        quantity=Decimal(1234),
        input_tokens=0,
        cache_write_tokens=56,
        outcome_value=250_000_000_001,
        failed_outcomes=1,
        last_offset=7,
        partition=3,
    )
    assert WindowAggregate.decode(b"1E-12,1,0,0,0,0,0,0,0,0,9,0").cost == 1  # Decimal text in any notation
    assert WindowAggregate.decode(b"0,1,0,0,0,0,0,0,0,0,9,0").cost == 0  # a window of free events


def test_a_worker_of_the_first_form_cannot_mistake_pico_dollars_for_dollars() -> None:
    # It read the first field as Decimal text: the tag makes that fail instead of $1.5 trillion.
    first = WindowAggregate(cost=1_500_000_000_000, events=1).encode().split(b",")[0].decode()
    with pytest.raises(InvalidOperation):
        Decimal(first)


def test_a_window_adds_exactly_where_floats_would_not() -> None:
    batch = [(0, o, priced(o, cost="0.1")) for o in range(1, 4)] + [(0, 4, priced(4, cost="0.000000000001"))]
    hour = fold(batch, (3600,), {}).changed[
        WindowKey("acme", "bot", "tool", 3600, window_start(int(T0.timestamp()), 3600))
    ]
    assert from_pico(hour.cost) == Decimal("0.300000000001")


def test_values_read_back_from_clickhouse_keep_their_types() -> None:
    agg = window_with_every_field()
    assert WindowAggregate.from_values(agg.values()) == agg
    texts = [str(value) for value in agg.values()]
    assert [type(v) for v in WindowAggregate.from_values(texts).values()] == list(AGGREGATE_FIELDS.values())
    # A ClickHouse row holds money in USD (its Decimal(38, 12) column): read back in pico-dollars.
    row = [
        from_pico(v) if name in PICO_FIELDS else v
        for name, v in zip(AGGREGATE_FIELDS, agg.values(), strict=True)
    ]
    assert WindowAggregate.from_values(row) == agg


def test_each_field_is_the_cost_windows_column_of_its_name_but_the_two_marks() -> None:
    renamed = {"last_offset": "version", "partition": "source_partition"}
    assert tuple(renamed.get(name, name) for name in AGGREGATE_FIELDS) == AGGREGATE_COLUMNS


def test_windows_expire_after_their_retention() -> None:
    key = WindowKey("acme", "bot", "llm", 60, 1000)
    assert not is_expired(key, 1060 + 600, {60: 600})
    assert is_expired(key, 1061 + 600, {60: 600})


def test_window_keys_are_window_keys_field_by_field() -> None:
    event = priced(1, at=T0 + timedelta(seconds=3_599))
    at = int(event.event.occurred_at.timestamp())
    expected = [
        WindowKey("acme", agent, "tool", size, window_start(at, size))
        for size in (60, 3600)
        for agent in ("bot", ALL_AGENTS)
    ]
    keys = window_keys(event, (60, 3600))
    assert keys == expected
    assert all(type(key) is WindowKey and key.end == key.start + key.size for key in keys)


def test_the_changelog_writes_quantity_and_large_sums_as_their_text() -> None:
    # The form is the fields' str() joined by commas, whatever a Decimal's exponent or an int's size.
    agg = WindowAggregate(cost=2**70, quantity=Decimal("1.50E+3"), input_tokens=-4, last_offset=2**40)
    text = "p" + ",".join(map(str, agg.values()))
    assert agg.encode() == text.encode()
    assert WindowAggregate.decode(agg.encode()) == agg
