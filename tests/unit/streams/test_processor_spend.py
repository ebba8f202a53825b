"""Spend control judges a batch while ClickHouse stores it, and commits only what ClickHouse took.

The rules run in the wait for the ledger's insert (the sink's ``meanwhile``), once however often
the write is retried; events ClickHouse refused are judged out again, and a batch that could not
be stored leaves no judgement behind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from streams.aggregation import Counted
from streams.window_batch import EventColumns
from tests.factories import batch, sms
from tests.unit.streams.test_processor_poison import POISON_AGENT, RefusingSink, quick, sms_from


class Judge:
    """Spend control as the processor sees it, writing down what it is asked."""

    def __init__(self) -> None:
        self.judged: list[list[str]] = []
        self.with_columns: list[bool] = []
        self.committed: list[tuple[int, list[str]]] = []
        self.discarded = 0

    def judge(self, counted: Sequence[Counted], columns: EventColumns | None = None) -> int:
        self.judged.append(ids(counted))
        self.with_columns.append(columns is not None)
        return len(self.judged)  # the judgement: which call made it

    async def commit(
        self, result: Any, counted: Sequence[Counted], retry: Callable[..., Awaitable[Any]]
    ) -> None:
        self.committed.append((result, ids(counted)))

    def discard(self) -> None:
        self.discarded += 1


def ids(counted: Sequence[Counted]) -> list[str]:
    return [priced.event.event_id for _, _, priced in counted]


async def test_a_batch_is_judged_once_while_it_is_stored_however_often_the_write_is_retried() -> None:
    sink, judge = RefusingSink(outages=2), Judge()
    p = quick(sink, [])
    p.spend = judge

    await p.process(batch([sms("e1"), sms("e2")]))

    assert sink.calls == 3  # two outages, then stored
    assert judge.judged == [["e1", "e2"]] and judge.with_columns == [True]
    assert judge.committed == [(1, ["e1", "e2"])] and judge.discarded == 0


async def test_events_clickhouse_refused_are_judged_out_again() -> None:
    sink, judge = RefusingSink(), Judge()
    p = quick(sink, [])
    p.spend = judge

    await p.process(batch([sms("e1"), sms_from(POISON_AGENT, "poison-1"), sms("e3")]))

    assert judge.judged == [["e1", "poison-1", "e3"], ["e1", "e3"]]
    assert judge.discarded == 1  # the first judgement counted the refused event
    assert judge.committed == [(2, ["e1", "e3"])]


async def test_a_batch_that_could_not_be_stored_leaves_no_judgement() -> None:
    sink, judge = RefusingSink(outages=1, outage=RuntimeError("a bug in the sink")), Judge()
    p = quick(sink, [])
    p.spend = judge

    with pytest.raises(RuntimeError, match="a bug in the sink"):
        await p.process(batch([sms("e1")]))

    assert judge.judged == [["e1"]] and judge.discarded == 1 and judge.committed == []
