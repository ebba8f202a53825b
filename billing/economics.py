"""Unit economics: what a month earned against what it cost, per customer or per agent. Pure.

Definitions (a period is a UTC calendar month; money is ``Decimal`` end to end):

Revenue
    A customer's revenue is its invoice total for the period
    (:func:`billing.invoices.invoice_for`: the finalized invoice when one is
    stored, otherwise a draft from the ledger as it is now; the total is the
    subtotal less prepaid credits applied, and includes any adjustment lines
    for earlier months that invoice carries). Only customers with a
    subscription in the period have an invoice; a customer with usage but no
    subscription has revenue 0 and is still listed, and a customer with a
    subscription but no usage is listed with cost 0.
Cost
    The sum of ledger ``cost`` over the period (``ledger FINAL``).
Gross margin
    revenue − cost. Margin % = 100 × (revenue − cost) / revenue, to 4
    decimal places; ``None`` when revenue is 0.
By agent
    Rows are (customer, agent) and cost is the agent's own. Revenue is
    *attributed*, not measured: a customer's revenue is split between its
    agents in proportion to each agent's share of that customer's cost (the
    last agent takes the remainder, so the shares add up to the invoice
    exactly). A customer whose cost is 0 gives nothing to split by; its
    revenue goes on an unattributed row (``agent_id`` is ``None``).
Tasks
    tasks = distinct non-empty ``task_id`` among the row's events; successful
    tasks = distinct ``task_id`` with an ``outcome`` event with ``success =
    true`` among the row's events; task cost = the cost of all the row's
    events that carry a ``task_id``: first attempts, retries, tasks that never
    succeeded and ``human_review`` rows of those tasks (a review counts for
    the agent whose ``agent_id`` it carries). Cost per successful task = task
    cost / successful tasks; ``None`` when no task succeeded. A ``task_id``
    belongs to its customer, so totals add the customers' figures.
Cost per conversation
    A conversation is a distinct ``task_id`` of a customer (keyed by
    ``(customer_id, task_id)``: task ids are the customers' own, so two
    customers may both have a ``t1``). It starts at its first event in the
    period. In each UTC hour in which at least one conversation started, the
    infrastructure cost of that hour is shared equally by the conversations
    that started in it, and added to their direct cost (the cost of all their
    events). The mean over conversations is therefore (direct cost +
    infra cost per hour × hours with conversations) / conversations; ``None``
    when there was no conversation. Hours in which no conversation started
    are charged to none (they are part of break-even's fixed cost).
Break-even volume
    With a human cost H per successful task, the fixed cost F = infra cost per
    hour × the hours of the period (24 × its days) and the cost per successful
    task c, doing N tasks with agents costs F + N × c and by hand N × H, so
    break-even N = ceil(F / (H − c)), computed exactly. ``None`` when H ≤ c
    ("never": agents cost at least what a human does on every task), or when
    c is unknown (no successful task). It is given for the total and for each
    row, as if that row alone carried the whole fixed cost.

Derived money (revenue shares, costs per task and per conversation) is kept to
12 decimal places, the ledger's scale, rounded half-even. The figures here
are computed from :class:`EconomicsInputs`, which :mod:`billing.economics_store`
reads from ClickHouse; :mod:`billing.render` shows them (costs to 6 decimal
places and revenue to 2 in tables; money as strings in JSON).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Literal

from billing.exceptions import BillingError
from billing.periods import Period
from schemas.money import ZERO

By = Literal["customer", "agent"]
BY: tuple[By, ...] = ("customer", "agent")

PLACES = 12  # the ledger's Decimal(38, 12)
PERCENT_PLACES = 4
# Sums of Decimal(38, 12) values can need more than the default 28 significant digits.
PRECISION = 80


def _quotient(numerator: Fraction, places: int = PLACES) -> Decimal:
    """An exact fraction rounded once, half-even, to ``places`` decimals."""
    return Decimal(f"{round(numerator * 10**places)}E-{places}")


def _sum(values: Iterable[Decimal]) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return sum(values, ZERO)


def _times(amount: Decimal, count: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return amount * count


def break_even_volume(
    fixed_cost: Decimal, human_cost: Decimal | None, task_cost: Decimal, successful_tasks: int
) -> int | None:
    """Successful tasks at which agents (F + N × c) cost what humans (N × H) do, rounded up.

    ``None`` without a human cost, without a successful task (c unknown), or
    when H ≤ c and no volume ever pays for the fixed cost.
    """
    if human_cost is None or successful_tasks == 0:
        return None
    saving_per_task = Fraction(human_cost) - Fraction(task_cost) / successful_tasks
    if saving_per_task <= 0:
        return None
    return math.ceil(Fraction(fixed_cost) / saving_per_task)


@dataclass(frozen=True)
class Usage:
    """What the ledger says one customer, or one of its agents, did in the period."""

    cost: Decimal = ZERO
    tasks: int = 0
    successful_tasks: int = 0
    task_cost: Decimal = ZERO


@dataclass(frozen=True)
class ConversationHour:
    """The conversations that started in one UTC hour, and the direct cost of all their events."""

    conversations: int
    direct_cost: Decimal


@dataclass(frozen=True)
class EconomicsInputs:
    """Everything the figures are computed from, as read by :mod:`billing.economics_store`."""

    period: Period
    customers: Mapping[str, Usage]  # every customer with usage in the period
    agents: Mapping[str, Sequence[tuple[str, Usage]]]  # customer -> its agents' usage, by agent
    invoice_totals: Mapping[str, Decimal]  # every subscribed customer's invoice total
    conversation_hours: Sequence[ConversationHour] = field(default_factory=list)

    @property
    def revenue(self) -> dict[str, Decimal]:
        """Invoice totals, and 0 for customers with usage but no subscription."""
        return dict.fromkeys(self.customers, ZERO) | dict(self.invoice_totals)


@dataclass(frozen=True, kw_only=True)
class Figures:
    """Revenue, cost and task figures of one row, or of the whole period."""

    revenue: Decimal
    cost: Decimal
    tasks: int
    successful_tasks: int
    task_cost: Decimal
    break_even_tasks: int | None = None

    @property
    def margin(self) -> Decimal:
        with localcontext() as ctx:
            ctx.prec = PRECISION
            return self.revenue - self.cost

    @property
    def margin_pct(self) -> Decimal | None:
        if self.revenue == 0:
            return None
        return _quotient(100 * Fraction(self.margin) / Fraction(self.revenue), PERCENT_PLACES)

    @property
    def cost_per_successful_task(self) -> Decimal | None:
        if self.successful_tasks == 0:
            return None
        return _quotient(Fraction(self.task_cost) / self.successful_tasks)


@dataclass(frozen=True, kw_only=True)
class EconomicsRow(Figures):
    customer_id: str
    agent_id: str | None  # None: a row by customer, or revenue no agent's cost could carry


@dataclass(frozen=True)
class ConversationCost:
    conversations: int
    hours: int  # UTC hours in which at least one conversation started
    direct_cost: Decimal  # all events of the conversations
    infra_cost_per_hour: Decimal

    @property
    def infra_cost(self) -> Decimal:
        return _times(self.infra_cost_per_hour, self.hours)

    @property
    def cost_per_conversation(self) -> Decimal | None:
        if self.conversations == 0:
            return None
        return _quotient((Fraction(self.direct_cost) + Fraction(self.infra_cost)) / self.conversations)


@dataclass(frozen=True)
class EconomicsReport:
    period: Period
    by: By
    currency: str
    infra_cost_per_hour: Decimal
    human_cost: Decimal | None
    rows: list[EconomicsRow]
    total: Figures
    conversations: ConversationCost

    @property
    def hours(self) -> int:
        return self.period.days * 24

    @property
    def fixed_cost(self) -> Decimal:
        return _times(self.infra_cost_per_hour, self.hours)


def split(revenue: Decimal, costs: Sequence[Decimal]) -> list[Decimal]:
    """``revenue`` in proportion to ``costs`` (which do not add up to 0); the shares add up exactly."""
    whole = Fraction(_sum(costs))
    shares = [_quotient(Fraction(revenue) * Fraction(cost) / whole) for cost in costs[:-1]]
    return [*shares, _sum([revenue, *(-share for share in shares)])]


def _check_amount(name: str, value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise BillingError(f"{name} must be a non-negative amount, not {value}")
    return value


@dataclass(frozen=True)
class _Costing:
    """How a row's usage becomes figures: break-even needs the period's fixed cost and the human cost."""

    fixed_cost: Decimal
    human_cost: Decimal | None

    def figures(self, revenue: Decimal, usage: Usage) -> Figures:
        return Figures(
            revenue=revenue,
            cost=usage.cost,
            tasks=usage.tasks,
            successful_tasks=usage.successful_tasks,
            task_cost=usage.task_cost,
            break_even_tasks=break_even_volume(
                self.fixed_cost, self.human_cost, usage.task_cost, usage.successful_tasks
            ),
        )

    def row(self, customer: str, agent: str | None, revenue: Decimal, usage: Usage) -> EconomicsRow:
        return EconomicsRow(customer_id=customer, agent_id=agent, **asdict(self.figures(revenue, usage)))


def economics(
    inputs: EconomicsInputs,
    by: By = "customer",
    infra_cost_per_hour: Decimal = ZERO,
    human_cost: Decimal | None = None,
) -> EconomicsReport:
    """Revenue against cost, per customer or per (customer, agent); see the module doc."""
    if by not in BY:
        raise BillingError(f"economics are by customer or by agent, not {by!r}")
    _check_amount("the infrastructure cost per hour", infra_cost_per_hour)
    if human_cost is not None:
        _check_amount("the human cost per task", human_cost)
    costing = _Costing(_times(infra_cost_per_hour, inputs.period.days * 24), human_cost)
    revenue = inputs.revenue
    rows = (
        _customer_rows(inputs, revenue, costing)
        if by == "customer"
        else _agent_rows(inputs, revenue, costing)
    )
    return EconomicsReport(
        period=inputs.period,
        by=by,
        currency="USD",
        infra_cost_per_hour=infra_cost_per_hour,
        human_cost=human_cost,
        rows=rows,
        total=costing.figures(_sum(revenue.values()), total_usage(inputs.customers.values())),
        conversations=conversation_cost(inputs.conversation_hours, infra_cost_per_hour),
    )


def _customer_rows(
    inputs: EconomicsInputs, revenue: Mapping[str, Decimal], costing: _Costing
) -> list[EconomicsRow]:
    return [costing.row(c, None, revenue[c], inputs.customers.get(c, Usage())) for c in sorted(revenue)]


def _agent_rows(
    inputs: EconomicsInputs, revenue: Mapping[str, Decimal], costing: _Costing
) -> list[EconomicsRow]:
    """One row per (customer, agent), the customer's revenue split by the agents' shares of its cost."""
    rows: list[EconomicsRow] = []
    for customer in sorted(revenue):
        own = inputs.agents.get(customer, [])
        costs = [usage.cost for _, usage in own]
        shares = split(revenue[customer], costs) if _sum(costs) != 0 else [ZERO] * len(own)
        rows += [
            costing.row(customer, agent, share, u) for (agent, u), share in zip(own, shares, strict=True)
        ]
        if _sum(costs) == 0 and (revenue[customer] != 0 or not own):
            # No cost to split by: the revenue stays visible rather than silently vanishing.
            rows.append(costing.row(customer, None, revenue[customer], Usage()))
    return rows


def total_usage(usages: Iterable[Usage]) -> Usage:
    """The customers' usage added up (a task belongs to one customer, so tasks add too)."""
    everyone = list(usages)
    return Usage(
        _sum(u.cost for u in everyone),
        sum(u.tasks for u in everyone),
        sum(u.successful_tasks for u in everyone),
        _sum(u.task_cost for u in everyone),
    )


def conversation_cost(hours: Sequence[ConversationHour], infra_cost_per_hour: Decimal) -> ConversationCost:
    """Conversations with each hour's infrastructure cost shared by those that started in it."""
    return ConversationCost(
        conversations=sum(h.conversations for h in hours),
        hours=len(hours),
        direct_cost=_sum(h.direct_cost for h in hours),
        infra_cost_per_hour=infra_cost_per_hour,
    )
