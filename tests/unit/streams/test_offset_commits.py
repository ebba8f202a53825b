"""The usage topic is processed in offset order and committed only as far as processed."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.transport.consumer import Consumer
from faust.types import TP

from streams import offset_commits
from streams.offset_commits import PartitionProgress
from streams.processor import RawMessage

USAGE = TP("usage", 3)


def messages(*offsets: int, partition: int = 3) -> list[RawMessage]:
    return [RawMessage("usage", partition, o, None, b"{}") for o in offsets]


def test_a_batch_in_order_from_the_committed_offset_is_admitted_whole() -> None:
    books = PartitionProgress()
    books.reset("usage", 3, committed=10)
    admitted, holes = books.admit(messages(10, 11, 12))
    assert [m.offset for m in admitted] == [10, 11, 12] and holes == {}
    books.done(admitted)
    assert books.committable("usage", 3) == 13


def test_after_a_hole_the_rest_of_the_partition_waits_and_the_hole_is_read_again() -> None:
    # A fetch from before a seek delivered 12.. while 10 and 11 were dropped.
    books = PartitionProgress()
    books.reset("usage", 3, committed=10)
    batch = messages(12, 13) + messages(5, 6, partition=4)
    admitted, holes = books.admit(batch)
    assert [(m.partition, m.offset) for m in admitted] == [(4, 5), (4, 6)]
    assert holes == {("usage", 3): 10}
    books.done(admitted)
    assert books.committable("usage", 3) is None  # nothing past the hole is committed

    admitted, holes = books.admit(messages(10, 11, 12, 13))  # read again after the seek
    assert len(admitted) == 4 and holes == {}


def test_a_committed_zero_is_a_known_head() -> None:
    books = PartitionProgress()
    books.reset("usage", 3, committed=0)
    assert books.admit(messages(1, 2)) == ([], {("usage", 3): 0})


def test_messages_below_the_expected_offset_are_replays_and_are_processed() -> None:
    books = PartitionProgress()
    books.reset("usage", 3, committed=10)
    books.done(books.admit(messages(10, 11))[0])
    admitted, holes = books.admit(messages(11, 12))  # 11 again, after a seek back
    assert [m.offset for m in admitted] == [11, 12] and holes == {}


def fake_consumer(read_offset: dict[TP, int | None]) -> Any:
    return SimpleNamespace(
        _committed_offset={tp: o or None for tp, o in read_offset.items()},
        _read_offset=dict(read_offset),
        _acked=defaultdict(list, {USAGE: [10, 11, 12, 40]}),
        _acked_index=defaultdict(set, {USAGE: {10, 11, 12, 40}}),
    )


def test_faust_commits_what_was_processed_never_what_was_acked() -> None:
    books = PartitionProgress()
    consumer = fake_consumer({USAGE: 0})

    async def seek_done(self: Any) -> None:
        pass

    saved = Consumer.perform_seek, Consumer._new_offset
    try:
        Consumer.perform_seek = seek_done  # type: ignore[method-assign]
        offset_commits.install({"usage"}, books)
        asyncio.run(Consumer.perform_seek(consumer))
        assert consumer._committed_offset[USAGE] == 0  # faust had stored None
        assert Consumer._new_offset(consumer, USAGE) is None  # acked, but not processed
        books.done(books.admit(messages(0, 1, 2))[0])
        assert Consumer._new_offset(consumer, USAGE) == 3
        assert consumer._acked[USAGE] == []
    finally:
        Consumer.perform_seek, Consumer._new_offset = saved  # type: ignore[method-assign]
