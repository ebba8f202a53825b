"""Commits of the usage topic start exactly at the committed offset."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.transport.consumer import Consumer
from faust.types import TP

from streams import offset_commits

USAGE = TP("usage", 3)


def consumer(committed: int | None, acked: list[int]) -> Any:
    seeks: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        seeks.append((tp, offset))

    return SimpleNamespace(
        _committed_offset={USAGE: committed} if committed is not None else {},
        _acked=defaultdict(list, {USAGE: list(acked)}),
        _acked_index=defaultdict(set, {USAGE: set(acked)}),
        _gap=defaultdict(list),
        seek=seek,
        seeks=seeks,
    )


def new_offset(c: Any) -> int | None:
    original = Consumer._new_offset
    try:
        offset_commits.install({"usage"})

        async def run() -> int | None:
            result = Consumer._new_offset(c, USAGE)
            await asyncio.sleep(0)  # let a scheduled seek run
            return result

        return asyncio.run(run())
    finally:
        Consumer._new_offset = original  # type: ignore[method-assign]


def test_a_contiguous_run_from_the_committed_offset_is_committed() -> None:
    c = consumer(committed=10, acked=[12, 10, 11, 14])
    assert new_offset(c) == 13
    assert c._acked[USAGE] == [14]


def test_a_hole_of_one_at_the_head_is_not_committed_and_is_read_again() -> None:
    c = consumer(committed=10, acked=[11, 12])  # faust would commit 13 here
    assert new_offset(c) is None
    assert c.seeks == [(USAGE, 10)]


def test_offsets_acked_again_after_a_replay_are_dropped() -> None:
    c = consumer(committed=10, acked=[8, 9, 10])
    assert new_offset(c) == 11
