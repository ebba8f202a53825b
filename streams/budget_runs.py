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
(:func:`streams.spend_state.add_contributor_columns`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from schemas.alerts import Alert
from schemas.budgets import Budget, PeriodKind
from streams.aggregation import Counted
from streams.spend_state import add_contributor_columns, budget_key, contribute

if TYPE_CHECKING:
    from datetime import datetime

    from streams.anomaly_rules import BatchEvents
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
    """A batch's budget records, each folded over its events in one go.

    Positions, partitions, costs and contributors are read from the batch's columns
    (:class:`~streams.anomaly_rules.BatchEvents`); an event's object is read only where a
    record opens, may change a condition, or is folded event by event: a batch whose events
    are not made yet (:class:`~streams.window_batch.CountedBatch`) makes those alone.
    """

    def __init__(
        self,
        rules: SpendRules,
        tagged: list[tuple[int, int, Alert]],
        out: Evaluation,
        before: SpendLookup,
        batch: Sequence[Counted],
        events: BatchEvents,
        ats: Sequence[int],
        emitted_at: datetime,
    ) -> None:
        self.rules, self.tagged, self.out, self.before = rules, tagged, out, before
        self.batch, self.ats, self.emitted_at = batch, ats, emitted_at  # ats: each event's time, in µs
        self.partitions, self.positions = events.partitions, events.positions
        self.agents, self.skus, self.tasks, self.costs = events.contributors_all()
        self._pending: list[int] = []  # counted, their contributors not yet added (one list: fewer
        # allocations, fewer collections of the garbage collector)

    def fold(self, budget: Budget, rank: int, subject: str, run: Sequence[int]) -> int:
        """Fold the events ``run`` indexes into the record; the first that changed it (-1 if none did)."""
        key, out, batch, ats = budget_key(budget.budget_id, subject), self.out, self.batch, self.ats
        partitions, positions, costs = self.partitions, self.positions, self.costs
        rolling = budget.period is PeriodKind.ROLLING_HOURS  # its window moves with each event's hour
        state = self.before.budget(key)
        first = -1
        triggers: Triggers | None = None
        pending = self._pending
        alerts: list[Alert] = []
        for i in run:
            pos = positions[i]
            if state is not None and pos <= state.position:
                continue  # counted before this batch was replayed
            partition, at_us = partitions[i], ats[i]
            if first < 0:
                first = i
                if not rolling:
                    at = batch[i][2].event.occurred_at
                    if state is None:
                        state = self.rules.new_budget_state(budget, at, at_us, partition)
                    out.budgets[key] = state
                    triggers = self.rules.triggers(budget, state, at, at_us)
            if triggers is not None and triggers.start_us <= at_us < triggers.end_us:
                assert state is not None
                state.position, state.partition = pos, partition
                state.spend += costs[i]
                at_s = at_us // 1_000_000
                if at_s > state.last_seen:
                    state.last_seen = at_s
                pending.append(i)
                if triggers.maybe(state.spend, at_us):
                    self._contribute(state.contributors)
                    alerts = []
                    at = batch[i][2].event.occurred_at
                    view = self.rules.view(budget, state, triggers, at, at_us)
                    if self.rules.judge_budget(alerts, state, view, subject, self.emitted_at):
                        self.tagged += [(i, rank, alert) for alert in alerts]
                        triggers = self.rules.triggers(budget, state, at, at_us)
                continue
            if state is not None:
                self._contribute(state.contributors)
            alerts = []
            priced = batch[i][2]
            self.rules.fold_budget_event(
                alerts, out, self.before, budget, subject, partition, pos, priced, self.emitted_at, at_us
            )
            self.tagged += [(i, rank, alert) for alert in alerts]
            state = out.budgets[key]
            if not rolling:
                triggers = self.rules.triggers(budget, state, priced.event.occurred_at, at_us)
        if state is not None:
            self._contribute(state.contributors)
        return first

    def _contribute(self, contributors: dict[str, dict[str, Decimal]]) -> None:
        """As :func:`~streams.spend_state.contribute` for each pending event's agent, model and task in
        turn; then none is pending."""
        pending = self._pending
        agents, skus, tasks, costs = self.agents, self.skus, self.tasks, self.costs
        if len(pending) < 4:  # a budget's usual: one event; the columns cost more than they save
            for i in pending:
                contribute(contributors, "agent", agents[i], costs[i])
                contribute(contributors, "model", skus[i], costs[i])
                contribute(contributors, "task", tasks[i], costs[i])
        else:
            add_contributor_columns(
                contributors,
                [agents[i] for i in pending],
                [skus[i] for i in pending],
                [tasks[i] for i in pending],
                [costs[i] for i in pending],
            )
        pending.clear()
