"""A message handed over to the streams ends as Faust's own ``wait_first`` ends it: at once when the hand-over
does not wait (no task), and cut short by a rebalance or a stop when it does, as before."""

from __future__ import annotations

import asyncio
import inspect
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from faust.transport import consumer as faust_consumer
from faust.transport.consumer import Consumer

from streams import message_handover
from streams.message_handover import hand_over_without_tasks

FAUST_WAIT_FIRST = message_handover._FAUST_WAIT_FIRST
HANDOVER_WAIT_FIRST = message_handover._wait_first


class FakeConsumer:
    """What ``wait_first`` uses of Faust's consumer: its flags and its loop."""

    def __init__(self) -> None:
        self.suspend_flow = asyncio.Event()
        self._stopped = asyncio.Event()
        self._crashed = asyncio.Event()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()


Delivery = Callable[[list[str], asyncio.Future[None]], Coroutine[Any, Any, str]]


async def at_once(seen: list[str], _: asyncio.Future[None]) -> str:
    lock = asyncio.Lock()  # free: taken without a wait, as the conductor's is
    async with lock:
        seen.append("delivered")
    return "done"


async def after_a_turn(seen: list[str], _: asyncio.Future[None]) -> str:
    await asyncio.sleep(0)
    seen.append("delivered")
    return "done"


async def when_room(seen: list[str], room: asyncio.Future[None]) -> str:
    try:
        await room  # a full stream buffer
    except asyncio.CancelledError:
        seen.append("cut short")
        raise
    seen.append("delivered")
    return "done"


async def failing(seen: list[str], _: asyncio.Future[None]) -> str:
    seen.append("tried")
    raise ValueError("undecodable")


async def failing_after_a_wait(seen: list[str], room: asyncio.Future[None]) -> str:
    await room
    raise ValueError("undecodable")


async def hand_over(
    wait_first: Any, delivery: Delivery, then: Callable[[FakeConsumer, asyncio.Future[None]], None] | None
) -> tuple[list[str], Any]:
    """What a delivery did and what ``wait_first`` gave (or raised), ``then`` done once it has begun."""
    consumer, seen = FakeConsumer(), []
    room: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    handing = asyncio.ensure_future(wait_first(consumer, delivery(seen, room), consumer.suspend_flow.wait()))
    for _ in range(3):
        await asyncio.sleep(0)
    if then is not None:
        then(consumer, room)
    try:
        results = await asyncio.wait_for(handing, 2)
    except ValueError as error:
        return seen, repr(error)
    return seen, (results.results, results.stopped, len(results.done))


def room_made(_: FakeConsumer, room: asyncio.Future[None]) -> None:
    room.set_result(None)


def rebalanced(consumer: FakeConsumer, _: asyncio.Future[None]) -> None:
    consumer.suspend_flow.set()


def stopped(consumer: FakeConsumer, _: asyncio.Future[None]) -> None:
    consumer._stopped.set()


CASES = [
    (at_once, None),
    (after_a_turn, None),
    (when_room, room_made),
    (when_room, rebalanced),
    (when_room, stopped),
    (failing, None),
    (failing_after_a_wait, room_made),
]


@pytest.mark.parametrize(("delivery", "then"), CASES, ids=lambda case: getattr(case, "__name__", "-"))
async def test_a_hand_over_ends_as_faust_s_own_wait_first_ends_it(delivery: Delivery, then: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a coroutine never awaited would say so here
        assert await hand_over(HANDOVER_WAIT_FIRST, delivery, then) == await hand_over(
            FAUST_WAIT_FIRST, delivery, then
        )


async def test_a_hand_over_that_does_not_wait_makes_no_task() -> None:
    consumer, seen = FakeConsumer(), []
    room: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    before = len(asyncio.all_tasks())

    results = await HANDOVER_WAIT_FIRST(consumer, at_once(seen, room), consumer.suspend_flow.wait())

    assert (seen, results.results, results.stopped) == (["delivered"], ["done"], False)
    assert len(asyncio.all_tasks()) == before


@pytest.mark.parametrize("flag", ["suspend_flow", "_stopped", "_crashed"])
async def test_with_a_flag_already_set_the_hand_over_is_faust_s_own(flag: str) -> None:
    for wait_first in (HANDOVER_WAIT_FIRST, FAUST_WAIT_FIRST):
        consumer, seen = FakeConsumer(), []
        getattr(consumer, flag).set()
        room: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        results = await wait_first(consumer, when_room(seen, room), consumer.suspend_flow.wait())
        await asyncio.sleep(0)
        assert seen == ["cut short"]
        assert results.stopped is (flag != "suspend_flow")


async def test_other_waits_of_the_consumer_are_faust_s_own() -> None:
    consumer = FakeConsumer()
    ready = asyncio.Event()
    ready.set()
    results = await HANDOVER_WAIT_FIRST(consumer, ready, timeout=1.0)
    assert results.done == [ready]


def test_faust_s_consumer_still_hands_each_message_over_by_the_call_this_replaces() -> None:
    """Faust 0.15's ``_drain_messages``: were the call to change, the hand-over would be Faust's own again."""
    drain = " ".join(inspect.getsource(Consumer._drain_messages).split())
    assert "await self.wait_first( callback(message), self.suspend_flow.wait() )" in drain
    assert faust_consumer.Event is asyncio.Event  # suspend_flow's, whose wait() the call is told by


def test_faust_s_consumers_hand_over_so_once_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Consumer, "wait_first", Consumer.__dict__.get("wait_first", FAUST_WAIT_FIRST))
    hand_over_without_tasks()
    assert Consumer.wait_first is HANDOVER_WAIT_FIRST
