"""Dedup decisions of the processor: an event_id is counted once per customer within the horizon.

ClickHouse is the fake of tests/fakes.py: its ``event_ids`` holds every row
the ledger was sent, as the materialized view does.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

import streams.dedup as dedup
import streams.processor as processor_module
from schemas.dead_letters import DeadLetter
from streams.processor import BatchStats, RawMessage
from streams.window_batch import plan_windows
from tests.factories import batch, hour_total, processor, sms
from tests.fakes import DictState, FakeSink

DAY = 86_400


def run(sink: FakeSink, state: DictState, messages: list[RawMessage]) -> BatchStats:
    letters: list[DeadLetter] = []
    return asyncio.run(processor(sink, state, letters).process(messages))


def test_a_republished_id_with_a_later_time_and_another_payload_is_dropped_and_the_first_wins() -> None:
    sink, state = FakeSink(), DictState()
    p = processor(sink, state, [])
    asyncio.run(p.process(batch([sms("sms-1", at="2026-11-20T09:00:00Z", calls=1)])))
    sink.clock.advance(11 * 60)  # after the old 10-minute window
    stats = asyncio.run(p.process(batch([sms("sms-1", at="2026-11-20T09:00:01Z", calls=3)], first_offset=1)))
    assert (stats.counted, stats.duplicates) == (0, 1)
    assert len(sink.ledger) == 1 and hour_total(sink) == (Decimal("0.008000000000"), 1)


def test_a_repeat_within_one_batch_is_dropped_before_any_lookup() -> None:
    sink, state = FakeSink(), DictState()
    stats = run(sink, state, batch([sms("sms-1"), sms("sms-2"), sms("sms-1", calls=9)]))
    assert (stats.counted, stats.duplicates, stats.dedup_checked) == (2, 1, 0)
    assert sink.id_lookups == []  # new ids of the last day: the filter alone decides


def test_ids_whose_hashes_are_equal_are_told_apart_by_their_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    # XXH64 may give two ids one hash: the batch's keys then decide, and both events count.
    def colliding(customers: Any, event_ids: Any) -> tuple[Any, bool, None]:
        return np.zeros(len(event_ids), np.uint64), False, None

    monkeypatch.setattr(processor_module, "batch_id_hashes", colliding)
    sink, state = FakeSink(), DictState()
    p = processor(sink, state, [])
    stats = asyncio.run(p.process(batch([sms("sms-1"), sms("sms-2"), sms("sms-1", calls=9)])))
    assert (stats.counted, stats.duplicates) == (2, 1)
    stats = asyncio.run(p.process(batch([sms("sms-3"), sms("sms-4")], first_offset=3)))
    assert (stats.counted, stats.duplicates, stats.dedup_checked) == (2, 0, 2)  # the filter knows hash 0
    assert sink.id_lookups[-1] == [("acme", "sms-3"), ("acme", "sms-4")]


def test_the_same_id_for_two_customers_is_two_events() -> None:
    sink, state = FakeSink(), DictState()
    globex = sms("sms-1").replace(b'"acme"', b'"globex"')
    stats = run(sink, state, [*batch([sms("sms-1")]), RawMessage("usage", 0, 1, b"globex", globex)])
    assert (stats.counted, stats.duplicates) == (2, 0)


def test_a_republished_id_is_dropped_after_a_restart_from_the_rebuilt_filter() -> None:
    sink, state = FakeSink(), DictState()
    run(sink, state, batch([sms("sms-1"), sms("sms-2")]))
    sink.clock.advance(6 * 3600)
    stats = run(sink, state, batch([sms("sms-2", at="2026-11-20T09:30:00Z"), sms("sms-3")], first_offset=2))
    assert sink.rebuilds == [0, 0]  # one rebuild per worker start
    assert (stats.counted, stats.duplicates, stats.dedup_checked) == (1, 1, 1)
    assert hour_total(sink)[1] == 3


def test_a_replayed_batch_that_held_a_repeat_counts_each_id_once() -> None:
    sink, state = FakeSink(), DictState()
    messages = batch([sms("sms-1"), sms("sms-2"), sms("sms-1", at="2026-11-20T09:00:05Z")])
    run(sink, state, messages)
    # Killed before committing: a new worker sees its own rows at the same
    # positions in ClickHouse, which are not duplicates of themselves.
    stats = run(sink, state, messages)
    assert (stats.duplicates, stats.replayed, stats.counted) == (1, 2, 0)
    stats = run(sink, DictState(), messages)  # and if the window state was lost too
    assert (stats.duplicates, stats.counted) == (1, 2)
    assert len(sink.ledger) == 2 and hour_total(sink)[1] == 2


def test_after_the_horizon_a_repeat_with_another_time_is_counted_again() -> None:
    sink, state = FakeSink(), DictState()
    p = processor(sink, state, [])
    asyncio.run(p.process(batch([sms("sms-1", at="2026-11-20T09:00:00Z")])))
    sink.clock.advance(DAY + 60)
    later = sms("sms-1", at="2026-11-21T09:00:00Z")
    stats = asyncio.run(p.process(batch([later], first_offset=1)))
    assert (stats.counted, stats.duplicates) == (1, 0)
    assert len(sink.ledger) == 2


def test_after_the_horizon_a_repeat_with_the_same_time_is_still_dropped_as_the_ledger_holds_it_once() -> None:
    sink, state = FakeSink(), DictState()
    p = processor(sink, state, [])
    asyncio.run(p.process(batch([sms("sms-1")])))
    sink.clock.advance(3 * DAY)
    stats = asyncio.run(p.process(batch([sms("sms-1", calls=2)], first_offset=1)))
    assert (stats.counted, stats.duplicates, stats.dedup_checked) == (0, 1, 1)
    assert hour_total(sink)[1] == 1


def test_the_windows_are_planned_while_clickhouse_looks_the_suspects_up_and_again_if_it_drops_some(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink, state = FakeSink(), DictState()
    p = processor(sink, state, [])
    seen: list[str] = []
    lookup = sink.counted_ids

    async def slow_lookup(pairs: Any, meanwhile: Any) -> Any:
        seen.append("asked")
        found = await lookup(pairs, meanwhile)  # the fake does the work meanwhile, then answers
        seen.append("answered")
        return found

    def planning(*args: Any) -> Any:
        seen.append("planned")
        return plan_windows(*args)

    monkeypatch.setattr(sink, "counted_ids", slow_lookup)
    monkeypatch.setattr("streams.processor.plan_windows", planning)
    asyncio.run(p.process(batch([sms("sms-1"), sms("sms-2")])))
    sink.clock.advance(3 * DAY)  # every event now old enough to be looked up

    seen.clear()
    stats = asyncio.run(p.process(batch([sms("sms-3"), sms("sms-4")], first_offset=2)))
    assert seen == ["asked", "planned", "answered"]  # nothing dropped: the plan made meanwhile is folded
    assert (stats.counted, hour_total(sink)[1]) == (2, 4)

    seen.clear()
    stats = asyncio.run(p.process(batch([sms("sms-5"), sms("sms-1")], first_offset=4)))
    assert seen == ["asked", "planned", "answered", "planned"]  # sms-1 dropped: planned again without it
    assert (stats.counted, stats.duplicates, hour_total(sink)[1]) == (1, 1, 5)


@pytest.mark.parametrize("native", [True, False], ids=["native-hashes", "python-hashes"])
def test_only_the_old_ids_of_a_batch_with_a_repeat_are_looked_up_by_their_keys(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not native:
        monkeypatch.setattr(dedup, "_native", None)
    elif dedup._native is None:
        pytest.skip("the native extension is not built")
    sink, state = FakeSink(), DictState()
    p = processor(sink, state, [])
    asyncio.run(p.process(batch([sms("sms-1"), sms("sms-2")])))
    sink.clock.advance(3 * DAY)
    recent = "2026-11-23T11:00:00Z"
    again = [sms("sms-9", at=recent), sms("sms-1"), sms("sms-8", at=recent), sms("sms-9", at=recent)]
    stats = asyncio.run(p.process(batch(again, first_offset=2)))
    assert (stats.counted, stats.duplicates, stats.dedup_checked) == (2, 2, 1)
    assert sink.id_lookups[-1] == [("acme", "sms-1")]
    stats = asyncio.run(p.process(batch([sms("sms-2"), sms("sms-7", at=recent)], first_offset=6)))
    assert (stats.counted, stats.duplicates, stats.dedup_checked) == (1, 1, 1)  # no repeat: no key made ahead
    assert sink.id_lookups[-1] == [("acme", "sms-2")]
