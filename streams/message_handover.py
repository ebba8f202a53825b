"""Faust's consumer hands each fetched message to its streams without four tasks, unless the hand-over waits.

Faust delivers every message it fetched (``Consumer._drain_messages``) with
``await self.wait_first(callback(message), self.suspend_flow.wait())``: a task
for the delivery, one for the suspend flag, one each for the consumer's stopped
and crashed flags, an ``asyncio.wait`` and three cancellations, so that a
rebalance or a stop can cut short a delivery blocked on a full stream buffer.
At ~100 events a message that was ~40 % of the CPU of taking them
(``bench.kafka_read --faust-rounds``). A delivery almost never waits: the
topic's lock is free and the stream's queue has room, so its coroutine ends at
its first step.

:func:`hand_over_without_tasks` has the consumer's ``wait_first``, for that call
only (a delivery and ``asyncio.Event.wait()``, no timeout, none of the flags
set), run the delivery's first step in the calling task. If it ends there, that
is the result ``wait_first`` would have given (the delivery the winner). If it
waits, the rest of it goes to Faust's own ``wait_first`` as a task of its own
(:func:`_rest_of`), the flags able to cut it short as before. Every other call,
and every call with a flag set, is Faust's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from faust.transport.consumer import Consumer
from mode.services import WaitResults

_EVENT_WAIT = asyncio.Event.wait.__code__
_FAUST_WAIT_FIRST = Consumer.wait_first


def _is_delivery_call(consumer: Any, coros: tuple[Any, ...], timeout: Any) -> bool:
    """Is this ``_drain_messages``' call, with nothing yet to cut a delivery short?"""
    return (
        timeout is None
        and len(coros) == 2
        and asyncio.iscoroutine(coros[0])
        and getattr(coros[1], "cr_code", None) is _EVENT_WAIT
        and not consumer.suspend_flow.is_set()
        and not consumer._stopped.is_set()
        and not consumer._crashed.is_set()
    )


async def _rest_of(delivery: Coroutine[Any, Any, Any], waiting_on: Any) -> Any:
    """The rest of ``delivery``, stopped at its first wait on ``waiting_on``, stepped as its task would be.

    As ``asyncio.Task`` steps a coroutine: a bare ``yield`` is a turn of the loop;
    a future is waited for and the coroutine resumed to take its outcome; cancelled
    meanwhile, the future is cancelled for the coroutine to see it (or, if it had
    already ended, ``CancelledError`` is thrown in).
    """
    loop = asyncio.get_running_loop()
    while True:
        step: Any = delivery.send
        argument: Any = None
        try:
            if waiting_on is None:
                await asyncio.sleep(0)
            else:
                waiting_on._asyncio_future_blocking = False
                woken = loop.create_future()

                def wake(_: Any, woken: asyncio.Future[None] = woken) -> None:
                    if not woken.done():
                        woken.set_result(None)

                waiting_on.add_done_callback(wake)
                try:
                    await woken
                finally:
                    waiting_on.remove_done_callback(wake)
        except asyncio.CancelledError as cancelled:
            if waiting_on is None or not waiting_on.cancel():
                step, argument = delivery.throw, cancelled
        try:
            waiting_on = step(argument)
        except StopIteration as ended:
            return ended.value


async def _wait_first(self: Any, *coros: Any, timeout: Any = None) -> WaitResults:
    if not _is_delivery_call(self, coros, timeout):
        return await _FAUST_WAIT_FIRST(self, *coros, timeout=timeout)
    delivery, suspended = coros
    try:
        waiting_on = delivery.send(None)
    except StopIteration as ended:
        suspended.close()
        return WaitResults([delivery], [ended.value], False)
    except BaseException:
        suspended.close()  # Faust's wait_first raises a delivery's error too
        raise
    return await _FAUST_WAIT_FIRST(self, _rest_of(delivery, waiting_on), suspended)


def hand_over_without_tasks() -> None:
    """Have Faust's consumers of this process deliver messages as this module says (once is enough)."""
    Consumer.wait_first = _wait_first  # type: ignore[assignment, method-assign]
