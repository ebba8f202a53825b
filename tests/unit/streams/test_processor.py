"""One batch through the processor, with ClickHouse and Kafka replaced by lists.

The end-to-end tests run the same paths against the real services; these
pin down the replay rules case by case.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from streams.aggregation import WindowKey, position
from streams.processor import RawMessage
from tests.factories import batch, encoded, hour_total, processor, sms
from tests.fakes import DictState, FakeSink


def test_a_replayed_batch_after_a_crash_counts_nothing_twice() -> None:
    sink, state, letters = FakeSink(), DictState(), []
    messages = batch([sms(f"e{i}") for i in range(5)])
    asyncio.run(processor(sink, state, letters).process(messages))
    # The worker died before committing: a new one (fresh dedup, same state
    # restored from the changelog) gets the same batch again.
    stats = asyncio.run(processor(sink, state, letters).process(messages))
    assert (stats.counted, stats.replayed, stats.duplicates) == (0, 5, 0)
    assert str(hour_total(sink)[0]) == "0.040000000000" and hour_total(sink)[1] == 5


def test_a_replay_whose_state_update_was_lost_refolds_the_same_totals() -> None:
    sink, letters = FakeSink(), []
    messages = batch([sms(f"e{i}") for i in range(5)])
    asyncio.run(processor(sink, DictState(), letters).process(messages))
    stats = asyncio.run(processor(sink, DictState(), letters).process(messages))
    assert stats.counted == 5 and stats.duplicates == 0  # rows at or above the batch are ours
    assert hour_total(sink)[1] == 5


def test_a_republished_event_id_is_dropped_even_after_a_restart() -> None:
    sink, state, letters = FakeSink(), DictState(), []
    asyncio.run(processor(sink, state, letters).process(batch([sms("e1"), sms("e2")])))
    restarted = processor(sink, state, letters)
    stats = asyncio.run(restarted.process(batch([sms("e2"), sms("e3")], first_offset=2)))
    assert (stats.counted, stats.duplicates) == (1, 1)
    assert hour_total(sink)[1] == 3


def test_bad_messages_become_dead_letters_and_the_rest_is_counted() -> None:
    sink, state, letters = FakeSink(), DictState(), []
    messages = batch(
        [sms("ok-1"), b"{not json", sms("x").replace(b"twilio-sms", b"carrier-pigeon"), sms("ok-2")]
    )
    stats = asyncio.run(processor(sink, state, letters).process(messages))
    assert (stats.counted, stats.dead_letters) == (2, 2)
    assert [d.code for d in letters] == ["malformed_json", "unpriceable"]
    assert letters[0].value == b"{not json" and letters[0].source_offset == 1
    assert len(sink.dead) == 2


def test_a_late_event_for_an_expired_window_starts_from_its_clickhouse_snapshot() -> None:
    sink, state, letters = FakeSink(), DictState(), []
    p = processor(sink, state, letters)
    asyncio.run(p.process(batch([sms("early", at="2026-11-20T09:00:00Z")])))
    asyncio.run(p.process(batch([sms("much-later", at="2026-11-20T15:00:00Z")], first_offset=1)))
    three_pm = int(datetime(2026, 11, 20, 15, tzinfo=UTC).timestamp())
    # the expiry timer dropped the morning windows from worker state
    state.windows = {k: v for k, v in state.windows.items() if k.start >= three_pm}
    state.expired[0] = state.marks[0]
    stats = asyncio.run(p.process(batch([sms("late", at="2026-11-20T09:00:30Z")], first_offset=2)))
    assert stats.counted == 1
    nine = WindowKey("acme", "*", "tool", 60, three_pm - 6 * 3600)
    assert sink.windows[nine].events == 2 and state.windows[nine].events == 2


def test_an_array_message_counts_its_events_and_dead_letters_only_the_bad_ones() -> None:
    sink, state, letters = FakeSink(), DictState(), []
    unpriced = sms("e2").replace(b"twilio-sms", b"carrier-pigeon")
    invalid = sms("e3").replace(b'"calls":1', b'"calls":-1')
    envelope = b"[" + b",".join([sms("e1"), unpriced, invalid, sms("e4")]) + b"]"
    stats = asyncio.run(processor(sink, state, letters).process(batch([envelope])))
    assert (stats.counted, stats.dead_letters) == (2, 2)
    by_code = {d.code: d for d in letters}
    assert by_code["invalid_event"].value == invalid and by_code["invalid_event"].source_index == 2
    assert b"carrier-pigeon" in (by_code["unpriceable"].value or b"")
    assert b"e1" not in (by_code["unpriceable"].value or b"")  # replaying it repeats nothing else


def test_events_of_one_message_fold_in_order_and_replay_as_a_unit() -> None:
    sink, state, letters = FakeSink(), DictState(), []
    envelope = b"[" + b",".join(sms(f"e{i}") for i in range(4)) + b"]"
    asyncio.run(processor(sink, state, letters).process(batch([envelope])))
    stats = asyncio.run(processor(sink, state, letters).process(batch([envelope])))
    assert (stats.counted, stats.replayed) == (0, 4)
    assert hour_total(sink)[1] == 4


def test_a_message_not_keyed_by_its_customer_is_dead_lettered() -> None:
    sink, state, letters = FakeSink(), DictState(), []
    message = RawMessage("usage", 0, 0, None, sms("e1"))
    stats = asyncio.run(processor(sink, state, letters).process([message]))
    assert stats.counted == 0 and letters[0].code == "wrong_key"


def test_another_customers_event_inside_acmes_message_is_dead_lettered_alone() -> None:
    sink, state, letters = FakeSink(), DictState(), []
    events = [sms("e1"), encoded("e2", customer="globex"), sms("e3"), encoded("e4", customer="acme ")]
    envelope = b"[" + b",".join(events) + b"]"
    stats = asyncio.run(processor(sink, state, letters).process(batch([envelope])))
    # "acme " is acme once stripped, as the contract reads it; globex is not.
    assert stats.counted == 3 and [letter.code for letter in letters] == ["wrong_key"]
    assert letters[0].source_index == 1 and b"globex" in (letters[0].value or b"")


def test_a_backfill_out_of_time_order_needs_no_clickhouse_lookups_before_any_expiry() -> None:
    sink, state, letters = FakeSink(), DictState(), []
    p = processor(sink, state, letters)
    asyncio.run(p.process(batch([sms("evening", at="2026-11-20T21:00:00Z")])))
    asyncio.run(p.process(batch([sms("morning", at="2026-11-20T06:00:00Z")], first_offset=1)))
    assert sink.lookups == 0


def test_a_replay_cut_into_other_batches_than_the_first_attempt_counts_each_event_once() -> None:
    # The first attempt stored two of five events' windows, then died; the
    # replay takes all five in one batch, its windows partly counted already.
    sink, state, letters = FakeSink(), DictState(), []
    messages = batch([sms(f"e{i}", at=f"2026-11-20T09:0{i}:00Z") for i in range(5)])
    asyncio.run(processor(sink, state, letters).process(messages[:2]))
    stats = asyncio.run(processor(FakeSink(), state, letters).process(messages))
    assert (stats.counted, stats.replayed) == (3, 2)
    hour = next(agg for key, agg in state.windows.items() if key.agent_id == "*" and key.size == 3600)
    assert hour.events == 5 and hour.last_offset == position(messages[-1].offset, 0)


def test_a_faust_message_becomes_the_raw_message_the_processor_reads() -> None:
    from types import SimpleNamespace

    message = SimpleNamespace(
        topic="costline.usage", partition=3, offset=41, key=b"acme", value=b"{}", timestamp=1764633600.1234
    )
    assert RawMessage.of(message) == RawMessage("costline.usage", 3, 41, b"acme", b"{}", 1764633600123)
    assert RawMessage.of(SimpleNamespace(**{**vars(message), "timestamp": None})).timestamp_ms is None
