"""The budget gate's contracts: the live spend the worker publishes, and a check and its answer.

**Live spend.** After each batch the worker publishes, for every budget
(and subject) whose spend the batch changed, a :class:`LiveSpend` to the
compacted topic ``costline.budget_spend``, keyed by budget id and subject
(:func:`live_spend_key`): the latest value is the budget's spend in its
current period, with the source position it was folded up to, so a
reader keeps the newest and a replayed batch (same position, same value)
changes nothing. ``settled`` names the gate reservations whose usage this
update counted: the gate frees their hold on this budget in the same step
as the spend grows, so a reservation is never counted twice nor dropped
before its cost shows.

Every few seconds each worker also publishes a :class:`PartitionMark` per
usage partition it holds (key: :func:`partition_mark_key`, which no budget
key can be): whether it has counted all that partition has, and when. A
budget's spend is as fresh as its partition's last caught-up mark: a
stopped or lagging worker shows as spend growing old, also while no usage
comes.

**Checks.** An agent asks "may I spend about ``estimate`` now?" with a
:class:`GateCheck`; the :class:`GateDecision` says allowed or not, what
remains of the tightest budget, and which reservation holds the estimate
until the usage carrying its id (event attribute ``costline.reservation_id``,
:data:`RESERVATION_ATTRIBUTE`) is counted, it is released, or it expires.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.budgets import BudgetKind, OnUnreachable
from schemas.events import Identifier

RESERVATION_ATTRIBUTE = "costline.reservation_id"
# Reservations are named by the gate: "res_" and 24 hex digits.
ReservationId = Annotated[str, Field(pattern=r"^res_[0-9a-f]{24}$")]
Estimate = Annotated[Decimal, Field(ge=0, le=Decimal(10**9), allow_inf_nan=False, decimal_places=12)]
ReservationTtl = Annotated[float, Field(gt=0, le=3600)]
# The share of a budget under which the answer says ``low``: agents skip optional tools then.
LOW_PERCENT = Decimal(20)
_SEP = "\x1f"  # identifiers may not hold control characters


def live_spend_key(budget_id: str, subject: str) -> bytes:
    return f"{budget_id}{_SEP}{subject}".encode()


class LiveSpend(BaseModel):
    """One budget's (and subject's) spend in its current period, as the worker has counted it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    budget_id: Identifier
    subject: str  # "" for the whole scope, else the agent, user or task it narrows to
    period_start: AwareDatetime  # a rolling budget's: the start of its window
    spend: Decimal
    # Rolling budgets: spend per hour (its start, epoch seconds), for the gate to sum its own window.
    hourly: dict[int, Decimal] = Field(default_factory=dict)
    partition: int
    position: int  # the source position folded up to: a reader keeps the highest
    settled: tuple[str, ...] = ()  # reservations whose usage this update counted
    published_at: AwareDatetime  # the worker's clock: how fresh this figure is


def partition_mark_key(partition: int) -> bytes:
    return f"{_SEP}{partition}".encode()  # a budget id is never empty


class PartitionMark(BaseModel):
    """A worker's word on one usage partition: how far behind its end it is, at ``at``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    partition: int
    behind: int | None  # messages not yet counted as of the last fetch; None: not known yet
    at: AwareDatetime


class GateCheck(BaseModel):
    """May this agent spend about ``estimate`` USD now? The ids pick the budgets, as an event's do."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    customer_id: Identifier
    agent_id: Identifier
    user_id: Identifier | None = None
    task_id: Identifier | None = None
    estimate: Estimate
    # How long the estimate is held if no usage settles it; None: the gate's setting.
    ttl_s: ReservationTtl | None = None


class DecisionSource(StrEnum):
    GATE = "gate"  # the gate answered from its live state
    GATE_UNREACHABLE = "gate_unreachable"  # the SDK answered alone, by each budget's on_unreachable


class BudgetStanding(BaseModel):
    """One budget a check was held against, as it stood."""

    model_config = ConfigDict(frozen=True)

    budget_id: str
    kind: BudgetKind
    on_unreachable: OnUnreachable
    amount: Decimal
    spent: Decimal  # counted by the worker in the current period
    reserved: Decimal  # held by open reservations, this check's included when allowed
    remaining: Decimal  # amount − spent − reserved; negative once overspent
    low: bool  # less than LOW_PERCENT of the amount remains
    # Usage up to this time is in ``spent``: the worker's last publication of it, or a later mark of
    # its partition caught up. None: no usage of this budget counted yet.
    spend_as_of: datetime | None


class GateDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    allowed: bool
    # Of the tightest budget (least remaining), after this check's reservation; None: no budget applies.
    remaining: Decimal | None
    low: bool
    budget_id: str | None  # the tightest budget
    kind: BudgetKind | None
    # When the gate cannot be reached: closed if a hard budget here says so, else open.
    fail_mode: OnUnreachable
    reservation_id: str | None = None
    expires_at: datetime | None = None
    budgets: tuple[BudgetStanding, ...] = ()
    # Seconds since the stalest ``spend_as_of`` of these budgets: old when the worker is down or behind.
    spend_age_s: float | None = None
    reason: str
    source: DecisionSource = DecisionSource.GATE


class Released(BaseModel):
    reservation_id: str
    released: Decimal  # what the reservation still held, now free
