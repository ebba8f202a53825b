"""Windows fold each event once, however often a batch is replayed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from schemas.events import ToolCall
from streams.aggregation import (
    AGGREGATE_COLUMNS,
    AGGREGATE_FIELDS,
    ALL_AGENTS,
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
    assert result.changed[WindowKey("acme", "bot", "tool", 60, start)].cost == Decimal("0.005")
    assert result.changed[WindowKey("acme", "other", "tool", 60, start + 60)].events == 1
    hour = result.changed[WindowKey("acme", ALL_AGENTS, "tool", 3600, start)]
    assert (hour.cost, hour.events, hour.last_offset) == (Decimal("0.010"), 2, 11)


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
    agg = WindowAggregate(cost=Decimal("1.000000000001"), events=3, last_offset=42, partition=5)
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
        cost=Decimal("1.5"), events=2, outcome_value=Decimal("0.25"), last_offset=7, partition=3
    )
    assert agg.encode() == b"1.5,2,0,0,0,0,0,0,0.25,0,7,3"
    assert agg.values() == tuple(getattr(agg, name) for name in AGGREGATE_FIELDS)


def test_values_read_back_from_clickhouse_keep_their_types() -> None:
    agg = window_with_every_field()
    assert WindowAggregate.from_values(agg.values()) == agg
    texts = [str(value) for value in agg.values()]
    assert [type(v) for v in WindowAggregate.from_values(texts).values()] == list(AGGREGATE_FIELDS.values())


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
