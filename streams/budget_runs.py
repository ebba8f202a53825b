"""One budget record's events of a batch, folded in one go: the spend rules' hot path with budgets.

:meth:`streams.spend_rules.SpendRules.evaluate` hands each budget record
(budget and subject) the indices of the batch's events it counts, in source
order. Most of them only add to the period's spend: a :class:`Triggers`
works out once, from the record's memory of its conditions, the spend (and,
for burn rate, the spend per elapsed time) at which any condition could
change, and such an event costs a Decimal addition and a comparison. The
rare event that may change a condition, that opens a period or is late, or
a rolling budget's, is folded as event by event folds it, with the same
code. Contributors are summed per contributor between those events
(:func:`streams.spend_state.add_contributors`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from schemas.alerts import Alert
from schemas.budgets import Budget, PeriodKind
from streams.aggregation import Counted
from streams.pricing import PricedEvent
from streams.spend_state import add_contributors, budget_key

if TYPE_CHECKING:
    from datetime import datetime

    from streams.spend_rules import Evaluation, SpendLookup, SpendRules

INFINITY = Decimal("Infinity")


@dataclass(slots=True)
class Triggers:
    """Where a record's conditions may change within its period, as its memory of them stands.

    ``maybe`` is True whenever some rule could return a condition for the event; it may be True
    when none does (the rules then say so, as event by event).
    """

    start: datetime
    end: datetime
    start_us: int
    end_us: int
    up: Decimal = INFINITY  # the least spend that passes a threshold not yet fired
    down: Decimal = -INFINITY  # spend under it leaves a firing threshold
    over: Decimal = INFINITY  # spend over it passes a margin limit not yet fired
    under: Decimal = -INFINITY  # spend at or under it resolves a firing margin
    burn: tuple[Decimal, Decimal, int, int, bool] | None = None  # below, above, length, from_us, firing
    opaque: bool = False  # a rule of unknown kind: every event is judged

    def maybe(self, spend: Decimal, at_us: int) -> bool:
        if spend >= self.up or spend < self.down or spend > self.over or spend <= self.under or self.opaque:
            return True
        burn = self.burn
        if burn is None:
            return False
        below, above, length, from_us, firing = burn
        if at_us < from_us:
            return False  # too early in the period to project
        elapsed = at_us - self.start_us
        # As BurnRateRule.conditions: not fired and surely under, or firing and surely still over.
        return spend * length < above * elapsed if firing else spend * length >= below * elapsed


class BudgetRuns:
    """A batch's budget records, each folded over its events in one go."""

    def __init__(
        self,
        rules: SpendRules,
        tagged: list[tuple[int, int, Alert]],
        out: Evaluation,
        before: SpendLookup,
        batch: Sequence[Counted],
        ats: Sequence[int],
        emitted_at: datetime,
    ) -> None:
        self.rules, self.tagged, self.out, self.before = rules, tagged, out, before
        self.batch, self.ats, self.emitted_at = batch, ats, emitted_at  # ats: each event's time, in µs
        self._pending: list[PricedEvent] = []  # counted, their contributors not yet added (one list: fewer
        # allocations, fewer collections of the garbage collector)

    def fold(self, budget: Budget, rank: int, subject: str, run: Sequence[int]) -> int:
        """Fold the events ``run`` indexes into the record; the first that changed it (-1 if none did)."""
        key, out, batch, ats = budget_key(budget.budget_id, subject), self.out, self.batch, self.ats
        rolling = budget.period is PeriodKind.ROLLING_HOURS  # its window moves with each event's hour
        state = self.before.budget(key)
        first = -1
        triggers: Triggers | None = None
        pending = self._pending
        alerts: list[Alert] = []
        for i in run:
            partition, pos, priced = batch[i]
            if state is not None and pos <= state.position:
                continue  # counted before this batch was replayed
            at_us = ats[i]
            if first < 0:
                first = i
                if not rolling:
                    if state is None:
                        state = self.rules.new_budget_state(
                            budget, priced.event.occurred_at, at_us, partition
                        )
                    out.budgets[key] = state
                    triggers = self.rules.triggers(budget, state, priced.event.occurred_at, at_us)
            if triggers is not None and triggers.start_us <= at_us < triggers.end_us:
                assert state is not None
                state.position, state.partition = pos, partition
                state.spend += priced.cost
                at_s = at_us // 1_000_000
                if at_s > state.last_seen:
                    state.last_seen = at_s
                pending.append(priced)
                if triggers.maybe(state.spend, at_us):
                    add_contributors(state.contributors, pending)
                    alerts = []
                    view = self.rules.view(budget, state, triggers, priced.event.occurred_at, at_us)
                    if self.rules.judge_budget(alerts, state, view, subject, self.emitted_at):
                        self.tagged += [(i, rank, alert) for alert in alerts]
                        triggers = self.rules.triggers(budget, state, priced.event.occurred_at, at_us)
                continue
            if state is not None:
                add_contributors(state.contributors, pending)
            alerts = []
            self.rules.fold_budget_event(
                alerts, out, self.before, budget, subject, partition, pos, priced, self.emitted_at, at_us
            )
            self.tagged += [(i, rank, alert) for alert in alerts]
            state = out.budgets[key]
            if not rolling:
                triggers = self.rules.triggers(budget, state, priced.event.occurred_at, at_us)
        if state is not None:
            add_contributors(state.contributors, pending)
        return first
