"""Spend rules evaluated in the stream: budget thresholds, burn rate, per-request and per-task limits.

Pure: no I/O. :func:`evaluate` folds a batch of counted events, one at a
time in source order, into copies of the budget and task records it
touches, and returns the alerts the batch fires or resolves. Evaluating per
event (not per batch) makes the outcome independent of how the stream was
cut into batches, so a batch replayed after a crash yields the very same
alerts, ids and figures.

**Adding a rule.** A budget rule is a class with ``rule`` and
``conditions(view)``: for the spend so far it says, per threshold, whether
the condition holds and with which figures (:class:`Condition`). The
engine turns a condition that starts holding into a ``firing`` alert and
one that stops into a ``resolved`` alert, once each per period, and keeps
that memory in the budget's record. Add the class to :func:`budget_rules`;
the anomaly detectors plug in the same way.

**Burn rate** is a linear projection: the spend so far divided by the
elapsed share of the period, at the event's own time (so replays agree).
It alerts when the projection reaches the budget plus the allowed excess
(20 % by default), once at least a minimum share of the period (10 % by
default) has passed, since the first hours of a month project wildly.
Rolling budgets have no period to project over and are not rated.

**Limits.** A request over the per-request cost (default $0.50) or token
limit fires an alert for that request; a task whose running total passes
the per-task token (default 5,000 inference tokens: input plus output) or
cost limit fires once for that task. Limits come from the settings and are
overridden by the most specific matching budget that sets them. Requests
are single events (an LLM call, a tool call); a request id names the
request in the alert, the event id stands in for a missing one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from itertools import compress, repeat
from operator import is_not, le
from typing import Any, Protocol, TypeVar, cast

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from schemas.alerts import Alert, AlertRule, AlertStatus, Contributor, ContributorKind, alert_id
from schemas.budgets import SCOPE_FIELD, SPECIFICITY, Budget, PeriodKind, Scoped
from schemas.money import SCALE, ZERO, to_cents
from streams.aggregation import Counted
from streams.anomaly_rules import AnomalyRules, BatchEvents, in_event_order
from streams.budget_runs import BudgetRuns, Triggers
from streams.pricing import PricedEvent, cost_of_pico
from streams.spend_state import (
    BudgetSpend,
    ChangedDetector,
    DetectorRecord,
    Fired,
    RulesMark,
    TaskTally,
    budget_key,
    task_key,
)
from streams.window_batch import EventColumns

HOUR = 3600
HUNDRED = Decimal(100)
UNIT = Decimal("1e-12")  # the ledger's scale
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Condition:
    """One threshold of one rule, as it stands after an event."""

    rule: AlertRule
    threshold: Decimal
    holds: bool
    # The figures and "spend 812.40 reached 80% of the 1000 budget" (the reason, after its scope):
    # worked out only for an alert, not for every event.
    figures: Callable[[], tuple[dict[str, Decimal], str]]


@dataclass(slots=True)  # not frozen: one is made per event and budget, and frozen init is slow
class SpendView:
    """What a budget rule sees: the budget, its spend in the period, and the time of the event."""

    budget: Budget
    spend: Decimal
    period_start: datetime
    period_end: datetime
    at: datetime
    # The same instants in microseconds since the epoch, worked out once per period and event.
    start_us: int = -1
    end_us: int = -1
    at_us: int = -1
    # The record's memory of its conditions: with it a rule may leave out a condition that
    # cannot change anything (not fired and not holding, or firing and still holding).
    fired: Mapping[str, Fired] | None = None

    def settled(self, rule: AlertRule, threshold: Decimal, holds: bool) -> bool:
        """Whether this condition, as it stands, changes nothing in the record."""
        if self.fired is None:
            return False
        was = self.fired.get(_fired_key(rule, threshold))
        if was is None:
            return not holds
        return was.status is AlertStatus.RESOLVED or holds

    def micros(self) -> tuple[int, int, int]:
        if self.at_us < 0:
            return _micros(self.period_start), _micros(self.period_end), _micros(self.at)
        return self.start_us, self.end_us, self.at_us


class BudgetRule(Protocol):
    @property
    def rule(self) -> AlertRule: ...

    def conditions(self, view: SpendView) -> Iterable[Condition]: ...


class ThresholdRule:
    """Spend in the period reached a percentage of the budget."""

    rule = AlertRule.BUDGET_THRESHOLD

    def __init__(self) -> None:
        self._limits: dict[str, tuple[Budget, list[tuple[Decimal, Decimal, str]]]] = {}

    def conditions(self, view: SpendView) -> Iterable[Condition]:
        # A list, not a generator: called for every budget of every event, and usually empty.
        spend, fired = view.spend, view.fired
        changing: list[Condition] = []
        for percent, limit, key in self._of(view.budget):
            holds = spend >= limit
            if fired is not None:  # SpendView.settled, inlined: the hottest test of the rules
                was = fired.get(key)
                if (not holds) if was is None else (was.status is AlertStatus.RESOLVED or holds):
                    continue
            changing.append(Condition(self.rule, percent, holds, _threshold_figures(view, percent, limit)))
        return changing

    def _of(self, budget: Budget) -> list[tuple[Decimal, Decimal, str]]:
        """Each threshold's amount and memory key, worked out once per budget (budgets are immutable)."""
        cached = self._limits.get(budget.budget_id)
        if cached is None or cached[0] is not budget:
            amount = budget.amount
            limits = [(percent, _money(amount * percent / HUNDRED), _fired_key(self.rule, percent))
                      for percent in budget.thresholds]  # fmt: skip
            cached = self._limits[budget.budget_id] = (budget, limits)
        return cached[1]


def _threshold_figures(
    view: SpendView, percent: Decimal, limit: Decimal
) -> Callable[[], tuple[dict[str, Decimal], str]]:
    amount = view.budget.amount
    return lambda: (
        {"spend": view.spend, "budget": amount, "limit": limit},
        f"spend {to_cents(view.spend)} reached {percent}% of the {to_cents(amount)} budget",
    )


def _fixed(figures: tuple[dict[str, Decimal], str]) -> Callable[[], tuple[dict[str, Decimal], str]]:
    return lambda: figures


@dataclass(frozen=True)
class BurnRateRule:
    """The spend so far, projected linearly over the period, exceeds the budget by the allowed excess."""

    excess_percent: Decimal = Decimal(20)
    min_elapsed_percent: Decimal = Decimal(10)
    rule: AlertRule = AlertRule.BURN_RATE
    _limits: dict[str, tuple[Budget, _BurnLimit]] = field(default_factory=dict, compare=False, repr=False)

    def conditions(self, view: SpendView) -> Iterable[Condition]:
        budget = view.budget
        if budget.period is PeriodKind.ROLLING_HOURS:
            return ()
        burn = self.burn_limit(budget)
        was = view.fired.get(burn.key) if view.fired is not None else None
        if was is not None and was.status is AlertStatus.RESOLVED:
            return ()  # resolved in this period: it cannot fire again before the next
        start_us, end_us, at_us = view.micros()
        length = end_us - start_us
        elapsed = at_us - start_us
        if elapsed <= 0 or elapsed * burn.elapsed_den < burn.elapsed_num * length:
            return ()
        # The projection rounds to 1e-12, so one unit either side of the exact test is sure:
        # most events are settled here without dividing.
        scaled = view.spend * length
        if view.fired is not None:
            if was is None:  # SpendView.settled, inlined: not fired and surely not holding
                if scaled < burn.below * elapsed:
                    return ()
            elif scaled >= burn.above * elapsed:  # firing and surely still holding
                return ()
        return [self._condition(view, burn, length, elapsed)]

    def burn_limit(self, budget: Budget) -> _BurnLimit:
        cached = self._limits.get(budget.budget_id)
        return cached[1] if cached is not None and cached[0] is budget else self._limit(budget)

    def _condition(self, view: SpendView, burn: _BurnLimit, length: int, elapsed: int) -> Condition:
        budget, excess, limit = view.budget, burn.excess, burn.limit
        projected = _money(view.spend * length / elapsed)

        def figures() -> tuple[dict[str, Decimal], str]:
            elapsed_percent = (Decimal(elapsed) * HUNDRED / length).quantize(Decimal("0.01"))
            observed = {"spend": view.spend, "budget": budget.amount, "projected": projected,
                        "limit": limit, "elapsed_percent": elapsed_percent}  # fmt: skip
            return observed, (
                f"spend {to_cents(view.spend)} after {elapsed_percent}% of the period projects "
                f"{to_cents(projected)}, "
                f"{excess}% or more over the {to_cents(budget.amount)} budget"
            )

        return Condition(self.rule, excess, projected >= limit, figures)

    def _limit(self, budget: Budget) -> _BurnLimit:
        """The budget plus the allowed excess, and the bounds of the test, worked out once per budget."""
        excess = budget.burn_rate_excess if budget.burn_rate_excess is not None else self.excess_percent
        limit = _money(budget.amount * (HUNDRED + excess) / HUNDRED)
        num, den = self.min_elapsed_percent.as_integer_ratio()
        burn = _BurnLimit(
            excess, limit, limit + UNIT, limit - UNIT, _fired_key(self.rule, excess), num, den * 100
        )
        self._limits[budget.budget_id] = (budget, burn)
        return burn


@dataclass(frozen=True, slots=True)
class _BurnLimit:
    excess: Decimal
    limit: Decimal
    above: Decimal  # one unit either side of the limit: the projection is rounded to 1e-12
    below: Decimal
    key: str  # the condition's memory in the record
    elapsed_num: int  # the minimum elapsed share of the period, num / den
    elapsed_den: int


@dataclass(frozen=True)
class MarginRule:
    """The period's cost leaves less than the set margin of the revenue the budget names.

    margin % = 100 x (revenue - spend) / revenue; the condition holds while it is
    below the floor, i.e. spend > revenue x (100 - floor) / 100. Within a period
    cost only grows, so it resolves when the period ends or the revenue is raised.
    """

    min_margin_pct: Decimal = Decimal(20)
    rule: AlertRule = AlertRule.MARGIN

    def conditions(self, view: SpendView) -> Iterable[Condition]:
        budget = view.budget
        revenue = budget.revenue
        margin = self.limit(budget)
        if revenue is None or margin is None:
            return ()
        floor, limit = margin

        def figures() -> tuple[dict[str, Decimal], str]:
            margin = ((revenue - view.spend) * HUNDRED / revenue).quantize(Decimal("0.01"))
            observed = {"cost": view.spend, "revenue": revenue, "margin_pct": margin, "cost_limit": limit}
            side = "below" if view.spend > limit else "back at or above"
            return observed, (
                f"cost {to_cents(view.spend)} against revenue {to_cents(revenue)} leaves a margin of "
                f"{margin}%, {side} {floor}%"
            )

        holds = view.spend > limit
        return () if view.settled(self.rule, floor, holds) else [Condition(self.rule, floor, holds, figures)]

    def limit(self, budget: Budget) -> tuple[Decimal, Decimal] | None:
        """The margin floor, and the cost over which the margin is under it; None without revenue."""
        if budget.revenue is None:
            return None
        floor = budget.min_margin_pct if budget.min_margin_pct is not None else self.min_margin_pct
        return floor, _money(budget.revenue * (HUNDRED - floor) / HUNDRED)


def budget_rules(
    burn_rate_excess: Decimal, burn_rate_min_elapsed: Decimal, margin_min_pct: Decimal = Decimal(20)
) -> tuple[BudgetRule, ...]:
    """The rules every budget is evaluated by, in this order."""
    return (
        ThresholdRule(),
        BurnRateRule(burn_rate_excess, burn_rate_min_elapsed),
        MarginRule(margin_min_pct),
    )


@dataclass(frozen=True)
class LimitSettings:
    """Per-request and per-task limits of the worker's settings; None: not checked."""

    request_cost: Decimal | None = Decimal("0.50")
    request_tokens: int | None = None
    task_cost: Decimal | None = None
    task_tokens: int | None = 5000


class BudgetBook:
    """The budgets in force, by customer; replaced one at a time as the budgets topic says."""

    def __init__(self, budgets: Iterable[Budget] = ()) -> None:
        self._by_id: dict[str, Budget] = {}
        self._by_customer: dict[str, list[Budget]] = {}
        self.version = 0  # changes with every put or remove: what was worked out of the budgets is stale
        for budget in budgets:
            self.put(budget)

    def put(self, budget: Budget) -> None:
        self.remove(budget.budget_id)
        self.version += 1
        self._by_id[budget.budget_id] = budget
        self._by_customer.setdefault(budget.customer_id, []).append(budget)

    def remove(self, budget_id: str) -> None:
        old = self._by_id.pop(budget_id, None)
        if old is not None:
            self.version += 1
            kept = [b for b in self._by_customer[old.customer_id] if b.budget_id != budget_id]
            if kept:
                self._by_customer[old.customer_id] = kept
            else:
                del self._by_customer[old.customer_id]

    def get(self, budget_id: str) -> Budget | None:
        return self._by_id.get(budget_id)

    def for_customer(self, customer_id: str) -> Sequence[Budget]:
        return self._by_customer.get(customer_id, ())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, budget_id: object) -> bool:
        return budget_id in self._by_id


class SpendLookup(Protocol):
    """The records as they stand before the batch (worker state); each call returns a fresh copy."""

    def budget(self, key: bytes) -> BudgetSpend | None: ...
    def task(self, key: bytes) -> TaskTally | None: ...
    def mark(self, partition: int) -> RulesMark: ...
    def detector(self, key: bytes) -> DetectorRecord | None: ...


@dataclass
class Evaluation:
    alerts: list[Alert] = field(default_factory=list)
    budgets: dict[bytes, BudgetSpend] = field(default_factory=dict)  # changed records
    tasks: dict[bytes, TaskTally] = field(default_factory=dict)
    marks: dict[int, RulesMark] = field(default_factory=dict)
    detectors: dict[bytes, ChangedDetector] = field(default_factory=dict)
    # The batch's columns the rules read, if it had them: what reads the batch after the rules
    # (live spend's reservations) reads them too rather than the events' objects.
    columns: EventColumns | None = None


@dataclass
class SpendRules:
    book: BudgetBook
    rules: Sequence[BudgetRule]
    limits: LimitSettings
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    anomalies: AnomalyRules | None = None

    def __post_init__(self) -> None:
        given = self.limits
        self._global = _Limits(given.request_cost, given.request_tokens, given.task_cost, given.task_tokens)
        self._periods: dict[str, tuple[Budget, datetime, datetime, int, int]] = {}
        self._untouched: dict[str, tuple[Budget, Triggers]] = {}  # per budget: triggers of nothing fired
        self._matched: dict[tuple[str, str | None, str | None, str | None], _Matched] = {}
        self._matched_version = -1
        self._uses: dict[str, tuple[bool, bool, bool]] = {}  # per customer: _scope_fields of its budgets
        self._limit_cache: dict[
            tuple[str, ...], tuple[tuple[Budget, ...], _Limits, dict[AlertRule, str]]
        ] = {}

    def evaluate(
        self, batch: Sequence[Counted], before: SpendLookup, columns: EventColumns | None = None
    ) -> Evaluation:
        """The batch's alerts and changed records, as folding it event by event in source order gives.

        Budgets and detectors are folded record by record (a record's state depends on its own
        events alone), each record read once; the alerts are then put back in event order.
        """
        out = Evaluation(columns=columns if columns is not None and columns.counted is batch else None)
        emitted_at = self.now()
        events = BatchEvents(batch, columns)  # ``columns``: the worker's of this very batch, if it has them
        if not len(self.book):  # no budget: the marks and limits alone, from the batch's columns
            counted = self._limits_only(out, before, batch, events, emitted_at)
            if counted is not None:
                anomalies = self.anomalies
                detected = (
                    anomalies.fold(batch, out.detectors, before, emitted_at, events) if anomalies else []
                )
                out.alerts = in_event_order(out.alerts, counted, detected)
                return out
        cuts: list[int] = []  # how many limit alerts the events up to each one fired
        runs: dict[tuple[int, str, str], list[int] | int] = {}  # (rank, budget, subject) -> its events
        if self._matched_version != self.book.version or len(self._matched) > 100_000:
            self._matched.clear()  # a cache of what budgets count which scope, kept between batches:
            self._uses.clear()
            self._matched_version = self.book.version  # fewer objects made (and collected) per batch
        matched, for_customer = self._matched, self.book.for_customer
        # Read from the batch's columns (BatchEvents): an event's object is made only where an
        # alert or a task needs it (an index into a CountedBatch makes that one event alone).
        partitions, positions, epochs = events.partitions, events.positions, events.epochs
        units = events.units
        agents, _, tasks = events.names()
        users: Sequence[str | None] | None = None
        ats = _event_micros(batch, out.columns)  # the events' times in µs
        least: dict[Decimal, int] = {}  # a request cost limit in units: an event under it is under the limit
        for i, customer in enumerate(events.customers):
            budgets = for_customer(customer)
            if budgets:
                uses = self._uses.get(customer)
                if uses is None:
                    uses = self._uses[customer] = _scope_fields(budgets)
                if uses[1] and users is None:
                    users = _user_ids(batch, out.columns)
                scoped = (customer, agents[i] if uses[0] else None,
                          users[i] if uses[1] and users is not None else None,
                          tasks[i] if uses[2] else None)  # fmt: skip
                found = matched.get(scoped)
                if found is None:
                    found = matched[scoped] = self._match(budgets, _Scope(*scoped))
                for record in found.runs:
                    run = runs.get(record)
                    if run is None:
                        runs[record] = i  # a list from the second: fewer objects for the collector to count
                    elif isinstance(run, int):
                        runs[record] = [run, i]
                    else:
                        run.append(i)
                limits, owners = found.limits
            else:
                limits, owners = self._global, {}
            partition, pos = partitions[i], positions[i]
            mark = out.marks.get(partition)
            if mark is None:
                mark = out.marks[partition] = before.mark(partition)
            if pos > mark.position:
                mark.position = pos
                mark.event_time = max(mark.event_time, epochs[i])
                cost_limit, token_limit = limits.request_cost, limits.request_tokens
                over = token_limit is not None and events.tokens()[i] > token_limit
                if cost_limit is not None and not over:
                    floor = least.get(cost_limit)
                    if floor is None:  # a cost over the limit is over it in whole units too
                        floor = least[cost_limit] = _floor_units(cost_limit)
                    over = units[i] >= floor
                if over:  # few are: their objects are made, and judged exactly
                    priced = batch[i][2]
                    if (cost_limit is not None and priced.cost > cost_limit) or (
                        token_limit is not None and _inference_tokens(priced) > token_limit
                    ):
                        out.alerts += _request_alerts(priced, limits, owners, emitted_at)
            if tasks[i] is not None:
                self._fold_task(out, before, partition, pos, batch[i][2], limits, owners, emitted_at)
            cuts.append(len(out.alerts))
        tagged: list[tuple[int, int, Alert]] = []
        if runs:
            self._fold_budgets(tagged, out, before, batch, events, ats, runs, emitted_at)
        if self.anomalies is not None:
            tagged += self.anomalies.fold(batch, out.detectors, before, emitted_at, events)
        out.alerts = in_event_order(out.alerts, cuts, tagged)
        return out

    def _limits_only(
        self,
        out: Evaluation,
        before: SpendLookup,
        batch: Sequence[Counted],
        events: BatchEvents,
        emitted_at: datetime,
    ) -> list[int] | None:
        """:meth:`evaluate`'s loop where no budget is loaded: the cuts it makes; None (``out`` untouched)
        where a partition's positions do not increase, and only that loop tells which events are new.

        Only the few events over a request limit, or of a task, are looked at one by one.
        """
        partitions = events.partitions
        columns = out.columns  # the batch's, where the worker gave them: its arrays, not made again
        if columns is not None and len(columns.ledger.skus) == len(batch):  # as BatchEvents reads them
            parts, positions = columns.partitions, columns.positions
            epochs = columns.seconds.astype(np.int64)  # BatchEvents' epochs: int() of each truncates too
        else:
            parts = np.fromiter(partitions, np.int64, len(partitions))
            positions = np.fromiter(events.positions, np.int64, len(partitions))
            epochs = np.fromiter(events.epochs, np.int64, len(partitions))
        order = _first_seen(parts)  # the marks in the order the loop makes them
        new = np.zeros(len(batch), dtype=np.bool_)
        marks: list[tuple[int, RulesMark, npt.NDArray[np.bool_]]] = []
        for partition in order:
            mine = parts == partition
            # events.ordered: every partition's positions increase (and more), told already
            if not events.ordered and (np.diff(positions[mine]) <= 0).any():
                return None
            mark = before.mark(partition)
            fresh = mine & (positions > mark.position)
            marks.append((partition, mark, fresh))
            new |= fresh
        for partition, mark, fresh in marks:
            out.marks[partition] = mark
            if fresh.any():
                mark.position = max(mark.position, int(positions[fresh].max()))
                mark.event_time = max(mark.event_time, int(epochs[fresh].max()))
        limits, every = self._global, range(len(batch))
        # The events to look at one by one, picked in C: those of a task, over a request limit.
        tasks = events.names()[2]
        look = (
            list(compress(every, map(is_not, tasks, repeat(None)))) if tasks.count(None) < len(tasks) else []
        )
        if limits.request_cost is not None:  # a cost over the limit is over it in whole units too
            floor, units = _floor_units(limits.request_cost), events.unit_array()
            if units is not None:
                look += np.flatnonzero(units >= floor).tolist()
            else:  # a cost past int64 pico-dollars
                look += compress(every, map(le, repeat(floor), events.units))
        if limits.request_tokens is not None:
            look += np.flatnonzero(events.token_array() > limits.request_tokens).tolist()
        made = np.zeros(len(batch), dtype=np.int64)
        # An event of no task read for a cost limit alone: its alert's fields from the columns, where
        # they hold them (no event's object made: most of what such an alert cost).
        facts = _RequestFacts.of(columns) if columns is not None and limits.request_tokens is None else None
        picked = sorted(set(look))
        read = facts.rows(picked, tasks) if facts is not None else [None] * len(picked)
        cost_limit, token_limit = limits.request_cost, limits.request_tokens
        priced: PricedEvent | _PricedFacts
        for i, fresh, told in zip(picked, new[picked].tolist(), read, strict=True):
            if told is None:
                partition, pos, priced = batch[i]
            else:
                priced = told
            had = len(out.alerts)
            if fresh and (
                (cost_limit is not None and priced.cost > cost_limit)
                or (token_limit is not None and _inference_tokens(cast(PricedEvent, priced)) > token_limit)
            ):
                out.alerts += _request_alerts(priced, limits, {}, emitted_at)
            if priced.event.task_id is not None:
                assert isinstance(priced, PricedEvent)  # an event of a task is read from its object
                self._fold_task(out, before, partition, pos, priced, limits, {}, emitted_at)
            made[i] = len(out.alerts) - had
        return cast(list[int], np.cumsum(made).tolist())

    def _match(self, budgets: Sequence[Budget], event: Scoped) -> _Matched:
        """The budgets counting events scoped as ``event`` is, with their subjects and limits."""
        matching: list[Budget] = []
        runs: list[tuple[int, str, str]] = []
        for rank, budget in enumerate(budgets):
            subject = budget.subject(event)
            if subject is not None:
                matching.append(budget)
                runs.append((rank - len(budgets), budget.budget_id, subject))  # before the event's limits
        return _Matched(matching, runs, self._limits(matching))

    def _fold_budgets(
        self,
        tagged: list[tuple[int, int, Alert]],
        out: Evaluation,
        before: SpendLookup,
        batch: Sequence[Counted],
        events: BatchEvents,
        ats: Sequence[int],
        runs: dict[tuple[int, str, str], list[int] | int],
        emitted_at: datetime,
    ) -> None:
        records = BudgetRuns(self, tagged, out, before, batch, events, ats, emitted_at)
        moved: dict[tuple[int, str, str], int] = {}  # records whose first events were counted before
        for run_key, run in runs.items():
            budget = self.book.get(run_key[1])
            assert budget is not None
            indices = (run,) if isinstance(run, int) else run
            first = records.fold(budget, run_key[0], run_key[2], indices)
            if first != indices[0]:
                moved[run_key] = first
        if moved:  # a replay: the records in the order event by event first changed them (the changelog's)
            firsts = sorted(
                (
                    moved.get(run_key, run if isinstance(run, int) else run[0]),
                    run_key[0],
                    run_key[1],
                    run_key[2],
                )
                for run_key, run in runs.items()
            )
            for first, _, budget_id, subject in firsts:
                key = budget_key(budget_id, subject)
                if first >= 0:
                    out.budgets[key] = out.budgets.pop(key)

    def new_budget_state(self, budget: Budget, at: datetime, at_us: int, partition: int) -> BudgetSpend:
        """The record of a budget's first event (not rolling), as :meth:`fold_budget_event` makes it."""
        start = self._period(budget, at, at_us)[0]
        return BudgetSpend(period_start=_epoch(start), partition=partition)

    def fold_budget_event(
        self,
        alerts: list[Alert],
        out: Evaluation,
        before: SpendLookup,
        budget: Budget,
        subject: str,
        partition: int,
        pos: int,
        priced: PricedEvent,
        emitted_at: datetime,
        at_us: int,
    ) -> bool:
        """One event into the budget's record, as it stands in ``out`` or ``before``; False if the event
        was counted before (the record is unchanged)."""
        key = budget_key(budget.budget_id, subject)
        state = out.budgets.get(key) or before.budget(key)
        at = priced.event.occurred_at
        start, end, start_us, end_us = self._period(budget, at, at_us)
        if state is None:
            state = BudgetSpend(period_start=_epoch(start), partition=partition)
        elif pos <= state.position:
            return False  # counted before this batch was replayed
        state.position, state.partition = pos, partition
        out.budgets[key] = state
        if budget.period is PeriodKind.ROLLING_HOURS:
            window = _fold_rolling(state, budget, priced)
            if window is None:
                return True
            start, end = window
            start_us, end_us = _micros(start), _micros(end)
        else:
            start_s = start_us // 1_000_000
            if start_s < state.period_start:
                return True  # a late event of a closed period: counted in the ledger, too late to alert on
            if start_s > state.period_start:
                _Firing(alerts, budget, subject, emitted_at, at).period_ended(state)
                state.period_start, state.spend = start_s, ZERO
                state.contributors.clear()
                state.fired.clear()
            state.spend += priced.cost
        state.last_seen = max(state.last_seen, at_us // 1_000_000)
        event = priced.event
        state.contribute("agent", event.agent_id, priced.cost)
        state.contribute("model", priced.sku, priced.cost)
        state.contribute("task", event.task_id, priced.cost)
        view = SpendView(budget, state.spend, start, end, at, start_us, end_us, at_us, state.fired)
        self.judge_budget(alerts, state, view, subject, emitted_at)
        return True

    def judge_budget(
        self, alerts: list[Alert], state: BudgetSpend, view: SpendView, subject: str, emitted_at: datetime
    ) -> bool:
        """Every rule on the record as it stands after an event; whether a condition fired or resolved."""
        fire = None  # made for the rare event that changes a condition
        for rule in self.rules:
            for condition in rule.conditions(view):  # usually none: only those that may change
                fire = fire or _Firing(alerts, view.budget, subject, emitted_at, view.at)
                fire.transition(state, condition, view)
        return fire is not None

    def view(
        self, budget: Budget, state: BudgetSpend, triggers: Triggers, at: datetime, at_us: int
    ) -> SpendView:
        t = triggers
        return SpendView(budget, state.spend, t.start, t.end, at, t.start_us, t.end_us, at_us, state.fired)

    def triggers(self, budget: Budget, state: BudgetSpend, at: datetime, at_us: int) -> Triggers | None:
        """Where the record's conditions may change in the period holding ``at``; None when the
        record is of another period (``at`` is late, or opens the next)."""
        start, end, start_us, end_us = self._period(budget, at, at_us)
        if start_us // 1_000_000 != state.period_start:
            return None
        fired = state.fired
        if not fired:  # most records: the same for every record of the budget in the period
            cached = self._untouched.get(budget.budget_id)
            if cached is not None and cached[0] is budget and cached[1].start_us == start_us:
                return cached[1]
        found = Triggers(start, end, start_us, end_us)
        for rule in self.rules:
            if isinstance(rule, ThresholdRule):
                for _, limit, key in rule._of(budget):
                    was = fired.get(key)
                    if was is None:
                        found.up = min(found.up, limit)
                    elif was.status is AlertStatus.FIRING:
                        found.down = max(found.down, limit)
            elif isinstance(rule, MarginRule):
                margin = rule.limit(budget)
                if margin is not None:
                    was = fired.get(_fired_key(rule.rule, margin[0]))
                    if was is None:
                        found.over = min(found.over, margin[1])
                    elif was.status is AlertStatus.FIRING:
                        found.under = max(found.under, margin[1])
            elif isinstance(rule, BurnRateRule) and found.burn is None:
                burn = rule.burn_limit(budget)
                was = fired.get(burn.key)
                if was is None or was.status is AlertStatus.FIRING:
                    length = end_us - start_us
                    least = max(1, -(-burn.elapsed_num * length // burn.elapsed_den))
                    found.burn = (burn.below, burn.above, length, start_us + least, was is not None)
            else:
                found.opaque = True
        if not fired:
            self._untouched[budget.budget_id] = (budget, found)
        return found

    def _period(self, budget: Budget, at: datetime, at_us: int) -> tuple[datetime, datetime, int, int]:
        """The budget's period holding ``at``, and its bounds in microseconds; the last one is kept
        per budget, so most events of a period skip the calendar arithmetic."""
        if budget.period is PeriodKind.ROLLING_HOURS:  # bounds that move with each event's hour
            start, end = budget.period_bounds(at)
            return start, end, _micros(start), _micros(end)
        cached = self._periods.get(budget.budget_id)
        if cached is not None and cached[0] is budget and cached[3] <= at_us < cached[4]:
            return cached[1], cached[2], cached[3], cached[4]
        start, end = budget.period_bounds(at)
        self._periods[budget.budget_id] = (budget, start, end, _micros(start), _micros(end))
        return start, end, _micros(start), _micros(end)

    def _fold_task(
        self,
        out: Evaluation,
        before: SpendLookup,
        partition: int,
        pos: int,
        priced: PricedEvent,
        limits: _Limits,
        owners: dict[AlertRule, str],
        emitted_at: datetime,
    ) -> None:
        event = priced.event
        assert event.task_id is not None
        key = task_key(event.customer_id, event.task_id)
        at = int(event.occurred_at.timestamp())
        tally = out.tasks.get(key) or before.task(key)
        if tally is None:
            tally = TaskTally(first_seen=at)
        elif pos <= tally.position:
            return
        tally.cost += priced.cost
        tally.tokens += _inference_tokens(priced)
        tally.position, tally.partition = pos, partition
        tally.first_seen, tally.last_seen = min(tally.first_seen, at), max(tally.last_seen, at)
        out.tasks[key] = tally
        checks: tuple[tuple[AlertRule, Decimal | int | None, Decimal | int], ...] = (
            (AlertRule.TASK_COST, limits.task_cost, tally.cost),
            (AlertRule.TASK_TOKENS, limits.task_tokens, tally.tokens),
        )
        for rule, limit, value in checks:
            if limit is None or value <= limit or str(rule) in tally.fired:
                continue
            tally.fired.append(str(rule))
            unit = "tokens" if rule is AlertRule.TASK_TOKENS else "cost"
            out.alerts.append(
                _limit_alert(
                    rule, priced, owners.get(rule, ""), "task", event.task_id, _at(tally.first_seen),
                    Decimal(limit), {unit: Decimal(value), "limit": Decimal(limit)},
                    f"task {event.task_id} {unit} {value} passed the limit {limit}", emitted_at,
                )
            )  # fmt: skip

    def _limits(self, matching: Sequence[Budget]) -> tuple[_Limits, dict[AlertRule, str]]:
        """The limits in force for an event the ``matching`` budgets count, and the budget each came
        from ("" for the settings)."""
        if not matching:
            return self._global, {}
        ids = tuple(b.budget_id for b in matching)
        cached = self._limit_cache.get(ids)
        if cached is not None and all(a is b for a, b in zip(cached[0], matching, strict=True)):
            return cached[1], cached[2]
        if len(self._limit_cache) > 100_000:
            self._limit_cache.clear()  # bounded: a cache of the budgets' combinations, not a memory
        values, owners = self._merge_limits(matching)
        self._limit_cache[ids] = (tuple(matching), values, owners)
        return values, owners

    def _merge_limits(self, matching: Sequence[Budget]) -> tuple[_Limits, dict[AlertRule, str]]:
        values = _Limits(
            self.limits.request_cost,
            self.limits.request_tokens,
            self.limits.task_cost,
            self.limits.task_tokens,
        )
        owners: dict[AlertRule, str] = {}
        # Least specific first, so the most specific budget's limit is set last and wins.
        for budget in sorted(matching, key=lambda b: (SPECIFICITY[b.scope], b.budget_id)):
            for name, rule in _LIMIT_RULES.items():
                value = getattr(budget.limits, name)
                if value is not None:
                    setattr(values, name, value)
                    owners[rule] = budget.budget_id
        return values, owners


def _first_seen(values: npt.NDArray[np.int64]) -> list[int]:
    """The distinct values in the order they first come, as ``dict.fromkeys`` of them all gives: read
    from the first of each run of one value alone (a batch's partitions come in runs of thousands)."""
    if not len(values):
        return []
    heads = np.flatnonzero(values[1:] != values[:-1]) + 1
    return list(dict.fromkeys(values[np.concatenate(([0], heads))].tolist()))


def _floor_units(limit: Decimal) -> int:
    """The limit in whole units of 1e-12, rounded down: a cost over the limit has at least as many."""
    return int(limit.scaleb(12).to_integral_value(rounding=ROUND_FLOOR))


@dataclass(frozen=True, slots=True)
class _Scope:
    """What budgets tell an event apart by, as :class:`~schemas.budgets.Scoped` (a key of the cache)."""

    customer_id: str
    agent_id: str | None
    user_id: str | None
    task_id: str | None


def _event_micros(batch: Sequence[Counted], columns: EventColumns | None) -> list[int]:
    """Each event's ``occurred_at`` in microseconds since the epoch, as :func:`_micros_of` gives it."""
    if columns is not None:
        seconds = columns.seconds
        # A float64 of epoch seconds holds the microsecond exactly within 2**52 µs of the epoch
        # (until 2112): rounding seconds * 1e6 gives it back. Further out, the objects say it.
        if not len(seconds) or float(np.abs(seconds).max()) < 2**52 / 1e6:
            return cast(list[int], np.rint(seconds * 1e6).astype(np.int64).tolist())
    return [_micros_of(priced.event.occurred_at) for _, _, priced in batch]


def _user_ids(batch: Sequence[Counted], columns: EventColumns | None) -> list[str | None]:
    if columns is not None:
        return [user or None for user in columns.ledger.user_ids]  # '' is none in the ledger's column
    return [getattr(priced.event, "user_id", None) for _, _, priced in batch]


def _scope_fields(budgets: Sequence[Budget]) -> tuple[bool, bool, bool]:
    """Whether any of ``budgets`` tells events apart by agent, by user, by task."""
    fields = {SCOPE_FIELD[budget.scope] for budget in budgets}
    return "agent_id" in fields, "user_id" in fields, "task_id" in fields


@dataclass(frozen=True, slots=True)
class _Matched:
    """The budgets counting the events of one scope (customer, agent, user, task), worked out once a batch."""

    budgets: list[Budget]
    runs: list[tuple[int, str, str]]  # per budget: its rank among an event's alerts (< 0), id, subject
    limits: tuple[_Limits, dict[AlertRule, str]]


@dataclass(slots=True)
class _Limits:
    request_cost: Decimal | None
    request_tokens: int | None
    task_cost: Decimal | None
    task_tokens: int | None


_LIMIT_RULES = {
    "request_cost": AlertRule.REQUEST_COST,
    "request_tokens": AlertRule.REQUEST_TOKENS,
    "task_cost": AlertRule.TASK_COST,
    "task_tokens": AlertRule.TASK_TOKENS,
}


@dataclass
class _Firing:
    """Turns conditions of one budget's record into alerts, each once per period."""

    alerts: list[Alert]
    budget: Budget
    subject: str
    emitted_at: datetime
    at: datetime

    def transition(self, state: BudgetSpend, condition: Condition, view: SpendView) -> None:
        key = _fired_key(condition.rule, condition.threshold)
        fired = state.fired.get(key)
        rolling = self.budget.period is PeriodKind.ROLLING_HOURS
        if fired is None and condition.holds:
            # A rolling budget's alerts are named by the hour the episode began.
            since = _epoch(_hour(self.at)) if rolling else state.period_start
            state.fired[key] = Fired(AlertStatus.FIRING, since)
            self._emit(state, condition, AlertStatus.FIRING, since, view)
        elif fired is not None and fired.status is AlertStatus.FIRING and not condition.holds:
            self._emit(state, condition, AlertStatus.RESOLVED, fired.since, view)
            if rolling:
                del state.fired[key]  # may fire again, as a new episode
            else:
                fired.status = AlertStatus.RESOLVED

    def period_ended(self, state: BudgetSpend) -> None:
        """The period closed with conditions firing: each resolves, with the period's final figures."""
        start, end = self.budget.period_bounds(_at(state.period_start))
        for key, fired in state.fired.items():
            if fired.status is not AlertStatus.FIRING:
                continue
            rule, threshold = key.split(":")
            ended = (
                {"spend": state.spend, "budget": self.budget.amount},
                f"the period ended with spend {to_cents(state.spend)} "
                f"of the {to_cents(self.budget.amount)} budget",
            )
            condition = Condition(AlertRule(rule), Decimal(threshold), False, _fixed(ended))
            view = SpendView(self.budget, state.spend, start, end, self.at)
            self._emit(state, condition, AlertStatus.RESOLVED, fired.since, view)

    def _emit(
        self, state: BudgetSpend, condition: Condition, status: AlertStatus, since: int, view: SpendView
    ) -> None:
        budget = self.budget
        observed, what = condition.figures()
        ident = alert_id(
            condition.rule, budget.budget_id, self.subject, _at(since), condition.threshold, status
        )
        scope = budget.scope_label if not self.subject else f"{budget.scope_label} ({self.subject})"
        self.alerts.append(
            Alert(
                alert_id=ident,
                rule=condition.rule,
                status=status,
                customer_id=budget.customer_id,
                budget_id=budget.budget_id,
                scope=str(budget.scope),
                subject=self.subject,
                period_start=view.period_start,
                period_end=view.period_end,
                threshold=condition.threshold,
                observed=observed,
                currency=budget.currency,
                top_contributors=state.top(),
                reason=f"{status}: {scope}, {budget.period_label} budget {budget.budget_id}: {what}",
                occurred_at=self.at,
                emitted_at=self.emitted_at,
            )
        )


def _fold_rolling(
    state: BudgetSpend, budget: Budget, priced: PricedEvent
) -> tuple[datetime, datetime] | None:
    """Add the event to its hour; the window it now spans, or None if the event is older than it.

    The window ends with the newest hour seen, so a late event within it counts and
    an older one does not. Contributors are kept over the record's life, not per hour.
    """
    assert budget.hours is not None
    hour = _epoch(_hour(priced.event.occurred_at))
    newest = max([*state.hourly, hour])
    window_start = newest - (budget.hours - 1) * HOUR
    if hour < window_start:
        return None
    state.hourly[hour] = state.hourly.get(hour, ZERO) + priced.cost
    for old in [h for h in state.hourly if h < window_start]:
        del state.hourly[old]
    state.period_start = window_start
    state.spend = sum(state.hourly.values(), ZERO)
    return _at(window_start), _at(newest + HOUR)


# Not frozen: a frozen dataclass sets each field through object.__setattr__ (five times the cost).
@dataclass(slots=True)
class _EventFacts:
    """What a request limit's alert reads of an event of no task, as its object holds them."""

    event_id: str
    request_id: str | None
    occurred_at: datetime
    customer_id: str
    agent_id: str
    task_id: None = None


@dataclass(slots=True)
class _PricedFacts:
    """What a request cost limit's alert reads of a priced event, as :class:`PricedEvent` holds them."""

    event: _EventFacts
    cost: Decimal
    sku: str


@dataclass(frozen=True, slots=True)
class _RequestFacts:
    """A batch's columns read as the priced events a request cost limit's alert reads."""

    columns: EventColumns
    seconds_exact: bool  # every time's microsecond is exact in its float64 seconds (_event_micros)

    @classmethod
    def of(cls, columns: EventColumns) -> _RequestFacts | None:
        """None where the columns do not tell an event's ``occurred_at`` (a time sent with an offset
        other than UTC's keeps it) or its cost."""
        n, ledger = len(columns), columns.ledger
        if not columns.utc_times or {len(columns.costs), len(columns.decimal_costs), len(ledger.skus),
                                     len(ledger.request_ids)} != {n}:  # fmt: skip
            return None
        seconds = columns.seconds
        return cls(columns, not len(seconds) or float(np.abs(seconds).max()) < 2**52 / 1e6)

    def rows(self, picked: list[int], tasks: Sequence[str | None]) -> list[_PricedFacts | None]:
        """The events at ``picked`` as their alerts read them; None for an event of a task (its object
        is read), or where the columns do not tell its time or cost."""
        if not self.seconds_exact:
            return [None] * len(picked)
        columns, ledger = self.columns, self.columns.ledger
        # As _event_micros: the microsecond exact in the float64 seconds, rounded back in C.
        micros = np.rint(columns.seconds[picked] * 1e6).astype(np.int64).tolist()
        decimal_costs, costs, request_ids = columns.decimal_costs, columns.costs, ledger.request_ids
        found: list[_PricedFacts | None] = []
        for i, at_us in zip(picked, micros, strict=True):
            decimal_cost, pico = decimal_costs[i], costs[i]
            if tasks[i] is not None or (decimal_cost is None and pico is None):
                found.append(None)
                continue
            event = _EventFacts(
                columns.event_ids[i], request_ids[i] or None,  # '' is none in the ledger's column
                _EPOCH + timedelta(microseconds=at_us), columns.customers[i], columns.agents[i],
            )  # fmt: skip
            cost = decimal_cost if decimal_cost is not None else cost_of_pico(cast(int, pico))
            found.append(_PricedFacts(event, cost, ledger.skus[i]))
        return found


def _request_alerts(
    priced: PricedEvent | _PricedFacts, limits: _Limits, owners: dict[AlertRule, str], emitted_at: datetime
) -> list[Alert]:
    event = priced.event
    request = event.request_id or event.event_id
    alerts = []
    # Each limit on its own, not a loop over both (a busy fleet fires thousands a batch): its rule,
    # unit and figures are those of its line.
    cost, cost_limit = priced.cost, limits.request_cost
    if cost_limit is not None and cost > cost_limit:
        alerts.append(
            _limit_alert(
                AlertRule.REQUEST_COST, priced, owners.get(AlertRule.REQUEST_COST, ""), "request", request,
                event.occurred_at, Decimal(cost_limit), {"cost": Decimal(cost), "limit": Decimal(cost_limit)},
                f"request {request} cost {cost} is over the limit {cost_limit}", emitted_at,
            )
        )  # fmt: skip
    token_limit = limits.request_tokens
    if token_limit is not None:
        assert isinstance(priced, PricedEvent)  # an event read for a token limit is read from its object
        tokens = _inference_tokens(priced)
        if tokens > token_limit:
            alerts.append(
                _limit_alert(
                    AlertRule.REQUEST_TOKENS, priced, owners.get(AlertRule.REQUEST_TOKENS, ""), "request",
                    request, event.occurred_at, Decimal(token_limit),
                    {"tokens": Decimal(tokens), "limit": Decimal(token_limit)},
                    f"request {request} tokens {tokens} is over the limit {token_limit}", emitted_at,
                )
            )  # fmt: skip
    return alerts


# The fields a limit's alert is validated from (the others are defaults), as validation sets them.
# Its defaults, read once: model_construct deep-copies each default it is left to fill (~2 µs an alert).
_LIMIT_ALERT_DEFAULTS = {name: Alert.model_fields[name].default for name in ("schema_version", "currency")}
_LIMIT_ALERT_SET = frozenset(Alert.model_fields) - _LIMIT_ALERT_DEFAULTS.keys()
_CONTRIBUTOR_SET = frozenset(Contributor.model_fields)
# BaseModel's slots' own setters: what object.__setattr__ finds by name, called straight (~30 % less).
_set_dict, _set_fields_set, _set_extra, _set_private = (
    vars(BaseModel)[name].__set__
    for name in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
)
M = TypeVar("M", bound=BaseModel)


def _plain(model: type[BaseModel]) -> bool:
    """Whether ``model_construct`` of ``model``, given every field by name, only sets its ``__dict__``
    and field set (no alias, no extra kept, no private attribute, no post-init): as :func:`_constructed`."""
    return (
        not model.__pydantic_root_model__
        and model.__pydantic_post_init__ is None
        and not model.__private_attributes__
        and model.model_config.get("extra") != "allow"
        and all(f.alias is None and f.validation_alias is None for f in model.model_fields.values())
    )


def _constructed(model: type[M], fields_set: set[str], values: dict[str, Any]) -> M:
    """``model.model_construct(fields_set, **values)``, ``values`` every field of ``model`` in its order:
    the same object without model_construct's look at each field's aliases (~3 µs an alert)."""
    if not _PLAIN:  # pragma: no cover  # a model changed: pydantic's own way
        return model.model_construct(fields_set, **values)
    made = model.__new__(model)
    _set_dict(made, values)
    _set_fields_set(made, fields_set)
    _set_extra(made, None)
    _set_private(made, None)
    return made


_PLAIN = _plain(Alert) and _plain(Contributor)


def _limit_alert(
    rule: AlertRule,
    priced: PricedEvent | _PricedFacts,
    budget_id: str,
    scope: str,
    subject: str,
    since: datetime,
    limit: Decimal,
    observed: dict[str, Decimal],
    what: str,
    emitted_at: datetime,
) -> Alert:
    event = priced.event
    owner = f"{event.customer_id}\x1f{budget_id}"
    # Constructed, not validated: every field is of its type already (a tested equality with the
    # validated alert), and a busy fleet fires thousands of these a batch (~10 µs of validation each).
    cost = priced.cost
    contributors = [_contributor("agent", event.agent_id, cost), _contributor("model", priced.sku, cost)]
    if event.task_id:
        contributors.append(_contributor("task", event.task_id, cost))
    # Every field given, in the model's order, defaults too (none looked up); the field set as
    # validation sets it.
    return _constructed(Alert, set(_LIMIT_ALERT_SET), {
        "schema_version": _LIMIT_ALERT_DEFAULTS["schema_version"],
        "alert_id": alert_id(rule, owner, subject, since, limit, AlertStatus.FIRING),
        "rule": rule,
        "status": AlertStatus.FIRING,
        "customer_id": event.customer_id,
        "budget_id": budget_id,
        "scope": scope,
        "subject": subject,
        "period_start": since,
        "period_end": event.occurred_at,
        "threshold": limit,
        "observed": observed,
        "currency": _LIMIT_ALERT_DEFAULTS["currency"],
        "top_contributors": contributors,
        "reason": f"firing: {event.customer_id}, agent {event.agent_id}: {what}",
        "occurred_at": event.occurred_at,
        "emitted_at": emitted_at,
    })  # fmt: skip


def _contributor(kind: ContributorKind, ident: str, cost: Decimal) -> Contributor:
    """``_constructed(Contributor, …)`` inlined: two or three of these an alert."""
    if not _PLAIN:  # pragma: no cover  # a model changed: pydantic's own way
        return Contributor.model_construct(set(_CONTRIBUTOR_SET), kind=kind, id=ident, cost=cost)
    made = _new_contributor(Contributor)
    _set_dict(made, {"kind": kind, "id": ident, "cost": cost})
    _set_fields_set(made, set(_CONTRIBUTOR_SET))
    _set_extra(made, None)
    _set_private(made, None)
    return made


_new_contributor = Contributor.__new__


def _inference_tokens(priced: PricedEvent) -> int:
    return priced.tokens.input + priced.tokens.output


def _money(value: Decimal) -> Decimal:
    return value.quantize(SCALE)


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


def _micros_of(at: datetime) -> int:
    """As :func:`_micros`, cheaper: an aware instant's whole seconds are exact in its timestamp."""
    return int(at.timestamp()) * 1_000_000 + at.microsecond if at.timestamp() >= 0 else _micros(at)


@functools.lru_cache(maxsize=4096)
def _fired_key(rule: AlertRule, threshold: Decimal) -> str:
    return f"{rule}:{threshold}"


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
