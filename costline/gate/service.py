"""The gate as the API runs it: one book, fed by the budgets and live spend topics.

One gate process holds the reservations (in memory): run one API process
with the gate, or route each customer's checks to the same one. A restart
forgets open reservations (the spend they guard shows once counted) and
answers again once both topics have been read to their end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from decimal import Decimal

from costline.config import Settings
from costline.gate.feeds import LiveSpendFeed, follow
from costline.gate.reservations import ReservationBook
from schemas.gate import GateCheck, GateDecision
from streams.budget_feed import BudgetFeed
from streams.spend_rules import BudgetBook


class GateNotReady(Exception):
    """The gate has not read its budgets and the live spend yet: answered 503, so SDKs fail per budget."""


class BudgetGate:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.enabled = settings.api_gate
        self.budgets = BudgetBook()
        self.book = ReservationBook(
            self.budgets,
            settings.gate_reservation_ttl_s,
            clock,
            max_open_per_customer=settings.gate_max_reservations_per_customer,
        )
        self.budget_feed = BudgetFeed(settings, self.budgets)
        self.spend_feed = LiveSpendFeed(settings, self.book)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def ready(self) -> bool:
        return self.budget_feed.ready.is_set() and self.spend_feed.ready.is_set()

    def start(self) -> None:
        if not self.enabled:
            return
        self._tasks = [asyncio.create_task(follow(f)) for f in (self.budget_feed, self.spend_feed)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def check(self, request: GateCheck) -> GateDecision:
        self._ensure_ready()
        return self.book.check(request)

    def release(self, reservation_id: str, customer_id: str | None) -> Decimal | None:
        self._ensure_ready()
        return self.book.release(reservation_id, customer_id)

    def _ensure_ready(self) -> None:
        if not self.enabled:
            raise GateNotReady(
                "the budget gate runs in a single-process API only (`costline api --workers 1`): "
                "reservations are held in one process's memory"
            )
        if not self.ready:
            raise GateNotReady("the budget gate is still reading its budgets and live spend; retry shortly")
