"""A batch with events ClickHouse refuses: they are dead-lettered, the rest are counted.

ClickHouse is replaced by a fake that refuses the rows of one agent, as a
table constraint would, and can fail a number of calls first, as a server
that is away would.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from clickhouse_connect.driver import exceptions as ch

from schemas.dead_letters import DeadLetter, DeadLetterCode
from streams.aggregation import ALL_AGENTS, Counted, WindowAggregate, WindowKey
from streams.processor import BatchProcessor
from streams.window_batch import EventColumns
from tests.factories import batch, processor, sms
from tests.fakes import DictState, FakeSink

POISON_AGENT = "poison-bot"


class RefusingSink(FakeSink):
    """Refuses every row of ``POISON_AGENT``; fails the first ``outages`` calls with ``outage``."""

    def __init__(self, outages: int = 0, outage: Exception | None = None) -> None:
        super().__init__()
        self.outages = outages
        self.outage = outage or ch.OperationalError("Network Error: Cannot connect to host")
        self.calls = 0

    def _check(self, counted: Sequence[Counted], windows: Mapping[WindowKey, WindowAggregate]) -> None:
        self.calls += 1
        if self.outages:
            self.outages -= 1
            raise self.outage
        if any(priced.event.agent_id == POISON_AGENT for _, _, priced in counted) or any(
            key.agent_id == POISON_AGENT for key in windows
        ):
            raise ch.DatabaseError("Code: 469. Constraint `no_poison` is violated", code=469)

    async def write(
        self,
        counted: Sequence[Counted],
        windows: Mapping[WindowKey, WindowAggregate],
        dead_letters: Sequence[Sequence[Any]] = (),
        *,
        columns: EventColumns | None = None,
        meanwhile: Callable[[], object] | None = None,
    ) -> None:
        if meanwhile is not None:
            meanwhile()  # as the real sink does: while the insert is under way, before its answer
        self._check(counted, windows)
        await super().write(counted, windows, dead_letters, columns=columns)

    async def probe(
        self, counted: Sequence[Counted] = (), windows: Mapping[WindowKey, WindowAggregate] | None = None
    ) -> None:
        self._check(counted, windows or {})


def quick(sink: RefusingSink, letters: list[DeadLetter]) -> BatchProcessor:
    p = processor(sink, DictState(), letters)
    p.retry_delay_s = p.retry_delay_max_s = 0.001
    return p


def sms_from(agent: str, event_id: str) -> bytes:
    return sms(event_id).replace(b'"agent_id":"bot"', f'"agent_id":"{agent}"'.encode())


async def test_a_poison_event_is_dead_lettered_and_its_batch_goes_on() -> None:
    sink, letters = RefusingSink(), []
    values = [sms(f"e{i}") for i in range(10)]
    values[6] = sms_from(POISON_AGENT, "poison-1")

    stats = await quick(sink, letters).process(batch(values, first_offset=100))

    assert stats.counted == 9 and stats.unstorable == 1
    assert sorted(row.event_id for row in sink.ledger.values()) == sorted(
        f"e{i}" for i in range(10) if i != 6
    )
    [letter] = letters
    assert letter.code == DeadLetterCode.UNSTORABLE
    assert (letter.source_offset, letter.source_index, letter.key) == (106, 0, b"acme")
    assert "Constraint `no_poison` is violated" in letter.reason
    assert b'"poison-1"' in (letter.value or b"")
    # The dead letter is in the table too, and the windows hold only what the ledger holds.
    assert [row[1] for row in sink.dead] == [DeadLetterCode.UNSTORABLE]
    hourly = [agg for key, agg in sink.windows.items() if key.agent_id == ALL_AGENTS and key.size == 3600]
    assert [agg.events for agg in hourly] == [9]


async def test_several_poison_events_in_one_array_are_each_a_dead_letter() -> None:
    sink, letters = RefusingSink(), []
    events = [sms(f"e{i}") if i % 4 else sms_from(POISON_AGENT, f"p{i}") for i in range(12)]
    message = b"[" + b",".join(events) + b"]"

    stats = await quick(sink, letters).process(batch([message]))

    assert stats.counted == 9
    assert sorted(letter.source_index for letter in letters) == [0, 4, 8]
    assert {letter.code for letter in letters} == {DeadLetterCode.UNSTORABLE}


async def test_a_server_that_is_away_is_retried_and_every_retry_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink, letters = RefusingSink(outages=3), []
    with caplog.at_level(logging.WARNING):
        stats = await quick(sink, letters).process(batch([sms("e1"), sms("e2")], first_offset=40))

    assert stats.counted == 2 and not letters
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 3
    assert all("usage[0]@40-41" in line and "Cannot connect" in line for line in retries)


async def test_a_refusal_that_blames_no_event_waits_for_the_operator_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    unknown_table = ch.DatabaseError("Code: 60. Table costline.ledger does not exist", code=60)
    sink, letters = RefusingSink(outages=2, outage=unknown_table), []
    with caplog.at_level(logging.ERROR):
        stats = await quick(sink, letters).process(batch([sms("e1")]))

    assert stats.counted == 1 and not letters
    waits = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(waits) == 2 and all("does not exist" in w and "waits" in w for w in waits)


async def test_a_bug_of_ours_is_not_retried_or_blamed_on_the_data() -> None:
    sink, letters = RefusingSink(outages=1, outage=AttributeError("oops")), []
    with pytest.raises(AttributeError):
        await quick(sink, letters).process(batch([sms("e1")]))
    assert sink.calls == 1 and not letters
