"""The gate's book: budgets, the worker's live spend, open reservations, and the decision. Pure.

For every budget a check falls under (its customer's budgets whose scope
matches the check's agent, user and task, as an event's would):

    remaining = amount − spent in the current period − held by open reservations

A hard budget refuses an estimate over its remaining; a soft one never
refuses. Allowed, the estimate is held on every matching budget by one
reservation, until the worker reports the usage carrying its id counted
(:meth:`ReservationBook.apply_spend`: the hold goes in the same step as the
spend grows), it is released, or it expires. Concurrent checks cannot
overshoot: :meth:`ReservationBook.check` has no ``await``, so on the event
loop each runs whole, reading and reserving in one step, and no lock is needed.
"""

from __future__ import annotations

import heapq
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from schemas.budgets import Budget, BudgetKind, OnUnreachable, PeriodKind
from schemas.gate import (
    LOW_PERCENT,
    BudgetStanding,
    GateCheck,
    GateDecision,
    LiveSpend,
    PartitionMark,
    live_spend_key,
)
from schemas.money import ZERO, to_micros
from streams.spend_rules import BudgetBook

HOUR = 3600
HUNDRED = Decimal(100)


class TooManyReservations(Exception):
    """A customer holds as many open reservations as the gate keeps for one: answered 429."""


def new_reservation_id() -> str:
    return f"res_{secrets.token_hex(12)}"


@dataclass
class Reservation:
    reservation_id: str
    customer_id: str
    expires_at: float  # epoch seconds
    holds: dict[bytes, Decimal] = field(default_factory=dict)  # live spend key -> amount held


@dataclass
class ReservationBook:
    budgets: BudgetBook
    ttl_s: float = 60.0
    clock: Callable[[], float] = time.time
    new_id: Callable[[], str] = new_reservation_id
    # Soft budgets never refuse, so without a bound one customer's checks could fill the memory.
    max_open_per_customer: int = 10_000
    spend: dict[bytes, LiveSpend] = field(default_factory=dict)
    marks: dict[int, PartitionMark] = field(default_factory=dict)  # per usage partition
    reservations: dict[str, Reservation] = field(default_factory=dict)
    _held: dict[bytes, Decimal] = field(default_factory=dict)  # per key, the sum of open holds
    _expiry: list[tuple[float, str]] = field(default_factory=list)  # a heap
    _open: dict[str, int] = field(default_factory=dict)  # per customer, open reservations

    def apply_spend(self, record: LiveSpend) -> None:
        """Take the worker's newest figure for a budget and free the holds its usage settled."""
        key = live_spend_key(record.budget_id, record.subject)
        known = self.spend.get(key)
        if known is None or known.partition != record.partition or record.position >= known.position:
            self.spend[key] = record
        for reservation_id in record.settled:
            self._drop_hold(reservation_id, key)

    def apply_mark(self, mark: PartitionMark) -> None:
        known = self.marks.get(mark.partition)
        if known is None or mark.at >= known.at:
            self.marks[mark.partition] = mark

    def forget_spend(self, key: bytes) -> None:
        self.spend.pop(key, None)

    def held(self, key: bytes) -> Decimal:
        return self._held.get(key, ZERO)

    def check(self, request: GateCheck) -> GateDecision:
        now = self.clock()
        self.expire(now)
        matched = [
            (budget, live_spend_key(budget.budget_id, subject))
            for budget in self.budgets.for_customer(request.customer_id)
            if (subject := budget.subject(request)) is not None
        ]
        if not matched:
            return GateDecision(
                allowed=True, remaining=None, low=False, budget_id=None, kind=None,
                fail_mode=OnUnreachable.OPEN, reason=f"no budget applies to {_who(request)}",
            )  # fmt: skip
        before = [self._standing(budget, key, now) for budget, key in matched]
        estimate = request.estimate
        refusing = [s for s in before if s.kind is BudgetKind.HARD and estimate > s.remaining]
        if refusing:
            tightest = min(refusing, key=_tightness)
            return _decision(False, tightest, before, _refusal(tightest, estimate), now)
        reservation = self._reserve(request, [key for _, key in matched], now)
        after = [self._standing(budget, key, now) for budget, key in matched]
        tightest = min(after, key=_tightness)
        reason = f"allowed: {to_micros(tightest.remaining)} left of budget {tightest.budget_id} after this"
        decision = _decision(True, tightest, after, reason, now)
        if reservation is None:
            return decision
        expires_at = datetime.fromtimestamp(reservation.expires_at, UTC)
        return decision.model_copy(
            update={"reservation_id": reservation.reservation_id, "expires_at": expires_at}
        )

    def release(self, reservation_id: str, customer_id: str | None = None) -> Decimal | None:
        """Free a reservation; what it still held, or None if there is none (of ``customer_id``'s)."""
        self.expire(self.clock())
        reservation = self.reservations.get(reservation_id)
        if reservation is None or (customer_id is not None and reservation.customer_id != customer_id):
            return None
        freed = max(reservation.holds.values(), default=ZERO)
        for key in list(reservation.holds):
            self._drop_hold(reservation_id, key)
        return freed

    def expire(self, now: float) -> int:
        """Drop reservations past their time; how many."""
        dropped = 0
        while self._expiry and self._expiry[0][0] <= now:
            _, reservation_id = heapq.heappop(self._expiry)
            reservation = self.reservations.get(reservation_id)
            if reservation is not None:
                for key in list(reservation.holds):
                    self._drop_hold(reservation_id, key)
                dropped += 1
        return dropped

    def _reserve(self, request: GateCheck, keys: list[bytes], now: float) -> Reservation | None:
        if request.estimate == ZERO:
            return None  # nothing to hold
        customer = request.customer_id
        if self._open.get(customer, 0) >= self.max_open_per_customer:
            raise TooManyReservations(
                f"customer {customer} holds {self.max_open_per_customer:,} open reservations, the most the "
                "gate keeps; release unused ones (DELETE /v1/gate/reservations/{id}) or let them expire"
            )
        self._open[customer] = self._open.get(customer, 0) + 1
        expires_at = now + (request.ttl_s if request.ttl_s is not None else self.ttl_s)
        reservation = Reservation(self.new_id(), request.customer_id, expires_at)
        for key in keys:
            reservation.holds[key] = request.estimate
            self._held[key] = self.held(key) + request.estimate
        self.reservations[reservation.reservation_id] = reservation
        heapq.heappush(self._expiry, (expires_at, reservation.reservation_id))
        return reservation

    def _drop_hold(self, reservation_id: str, key: bytes) -> None:
        reservation = self.reservations.get(reservation_id)
        if reservation is None or key not in reservation.holds:
            return  # settled, released or expired before
        left = self.held(key) - reservation.holds.pop(key)
        if left > ZERO:
            self._held[key] = left
        else:
            self._held.pop(key, None)
        if not reservation.holds:
            del self.reservations[reservation_id]
            left_open = self._open.pop(reservation.customer_id) - 1
            if left_open:
                self._open[reservation.customer_id] = left_open

    def _standing(self, budget: Budget, key: bytes, now: float) -> BudgetStanding:
        record = self.spend.get(key)
        spent = _spent(budget, record, now)
        reserved = self.held(key)
        remaining = budget.amount - spent - reserved
        return BudgetStanding(
            budget_id=budget.budget_id,
            kind=budget.kind,
            on_unreachable=budget.on_unreachable,
            amount=budget.amount,
            spent=spent,
            reserved=reserved,
            remaining=remaining,
            low=remaining * HUNDRED < budget.amount * LOW_PERCENT,
            spend_as_of=self._as_of(record),
        )

    def _as_of(self, record: LiveSpend | None) -> datetime | None:
        """Until when the budget's usage is counted: its last figure, or a later caught-up mark."""
        if record is None:
            return None
        mark = self.marks.get(record.partition)
        if mark is not None and mark.behind == 0 and mark.at > record.published_at:
            return mark.at
        return record.published_at


def _spent(budget: Budget, record: LiveSpend | None, now: float) -> Decimal:
    """The budget's spend in the period holding ``now``, from the worker's newest figure."""
    if record is None:
        return ZERO
    at = datetime.fromtimestamp(now, UTC)
    if budget.period is PeriodKind.ROLLING_HOURS:
        assert budget.hours is not None
        window_start = int(now) // HOUR * HOUR - (budget.hours - 1) * HOUR
        return sum((v for hour, v in record.hourly.items() if hour >= window_start), ZERO)
    start, _ = budget.period_bounds(at)
    return ZERO if record.period_start < start else record.spend  # a new period starts at nothing


def _tightness(standing: BudgetStanding) -> tuple[Decimal, str]:
    return standing.remaining, standing.budget_id


def _decision(
    allowed: bool, tightest: BudgetStanding, standings: list[BudgetStanding], reason: str, now: float
) -> GateDecision:
    known = [s.spend_as_of.timestamp() for s in standings if s.spend_as_of is not None]
    closed = any(s.kind is BudgetKind.HARD and s.on_unreachable is OnUnreachable.CLOSED for s in standings)
    return GateDecision(
        allowed=allowed,
        remaining=tightest.remaining,
        low=any(s.low for s in standings),
        budget_id=tightest.budget_id,
        kind=tightest.kind,
        fail_mode=OnUnreachable.CLOSED if closed else OnUnreachable.OPEN,
        budgets=tuple(standings),
        spend_age_s=round(max(0.0, now - min(known)), 3) if known else None,
        reason=reason,
    )


def _refusal(standing: BudgetStanding, estimate: Decimal) -> str:
    return (
        f"denied: hard budget {standing.budget_id} has {to_micros(standing.remaining)} left "
        f"({to_micros(standing.spent)} spent, {to_micros(standing.reserved)} reserved), "
        f"{to_micros(estimate)} asked"
    )


def _who(request: GateCheck) -> str:
    parts = [f"customer {request.customer_id}", f"agent {request.agent_id}"]
    parts += [
        f"{name} {value}" for name, value in (("user", request.user_id), ("task", request.task_id)) if value
    ]
    return ", ".join(parts)
