"""Anomaly rules: the detectors of :mod:`streams.anomalies` fed on the spend rules' exactly-once path.

Every customer's agents are watched, budget or not. Per event, in source order:

- **request cost** (``request_cost_anomaly``): the request against its agent's
  trailing average (30 days, k = 2, judged once the agent has 50 requests over
  3 days: the settings). A request is an instant: the alert fires for that
  request (named by its request id, the event id standing in) and never
  resolves.
- **hourly spike** (``hourly_spike``): the customer's spend so far this hour,
  and each agent's, against the same hour of the week in past weeks. The alert
  fires once per episode, named by the hour it began, and a ``resolved`` with
  the same names follows at the first later event of the key judged normal
  (the hour's spend back under its scaled threshold, or a new hour within it).
  Event-time driven: a key that goes quiet resolves at its next event.
- **token drift** (``token_drift``): an agent's tokens per request of the last
  3 days against the 28 before; episodes as hourly spikes, named by the day.

Each detector's state is a record of the spend table (keyed by kind, customer
and agent) with the highest source position folded into it, so a batch
replayed after a crash re-folds to the same state and fires the same alert
ids; the record is changelogged with the batch's other spend records, after
its alerts are stored and acknowledged (:mod:`streams.spend_control`).
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import chain, compress, repeat
from operator import attrgetter, ge, itemgetter
from typing import Any, Literal, Protocol, TypeVar, cast

import numpy as np
import numpy.typing as npt

from costline.config import Settings
from schemas.alerts import Alert, AlertRule, AlertStatus, Contributor, ContributorKind, alert_id
from streams.aggregation import Counted
from streams.anomalies import (
    HourlySpend,
    HourlySpikeSettings,
    RequestCostHistory,
    RequestCostSettings,
    StateFormatError,
    TokenDrift,
    TokenDriftSettings,
    Verdict,
)
from streams.anomalies.picodollars import to_units
from streams.anomalies.verdict import Judgement
from streams.column_groups import codes as numbered_names
from streams.day_folds import DayFold, request_cost_fold, token_drift_fold
from streams.day_sums import DaySums, day_sums
from streams.hourly_sums import (
    NATIVE,
    BatchSpend,
    HourlyRuns,
    Ints,
    add_contributor_units,
    contribute_coded,
    contribute_native,
    contribute_units,
    loose_costs,
)
from streams.key_runs import KeyRuns, stable_order
from streams.pricing import TokenUsage, cost_of_pico, costs_of_pico
from streams.spend_state import (
    MAX_CONTRIBUTORS,
    ChangedDetector,
    DetectorRecord,
    EncodedRecord,
    _contribute_each,
    add_contributor_columns,
    anomaly_keys,
    anomaly_owners,
    contribute,
    top_contributors,
)
from streams.window_batch import Coded, EventColumns, TokenColumns

log = logging.getLogger(__name__)
T = TypeVar("T")
HOUR = 3600
DAY = 86_400
# A detector unseen this long (event time) holds nothing any window still uses.
DETECTOR_IDLE_S = 36 * DAY
# Runs shorter than this are folded event by event: the columns' set-up costs more than it saves.
FEW = 4
# An hourly detector's: one absorb of two or three events costs less than judging each (most of
# a batch's keys have so few), and its contributors are added event by event all the same.
FEW_HOURLY = 2


@dataclass(frozen=True)
class AnomalySettings:
    """Which detectors run, with their settings; None: off."""

    request_cost: RequestCostSettings | None = field(default_factory=RequestCostSettings)
    hourly: HourlySpikeSettings | None = field(default_factory=HourlySpikeSettings)
    token_drift: TokenDriftSettings | None = field(default_factory=TokenDriftSettings)


def anomaly_settings(settings: Settings) -> AnomalySettings:
    """The detectors as the worker's settings configure them."""
    k = settings.anomaly_request_k
    request = RequestCostSettings(
        k=k,
        window_days=settings.anomaly_request_window_days,
        min_requests=settings.anomaly_request_min_requests,
        min_days=settings.anomaly_request_min_days,
    ) if k is not None else None  # fmt: skip
    hourly_ratio, drift_ratio = settings.anomaly_hourly_ratio, settings.anomaly_token_drift_ratio
    return AnomalySettings(
        request_cost=request,
        hourly=HourlySpikeSettings(ratio=hourly_ratio, floor=settings.anomaly_hourly_floor)
        if hourly_ratio
        else None,
        token_drift=TokenDriftSettings(ratio=drift_ratio) if drift_ratio else None,
    )


class Detector(Protocol):
    def judge(self, epoch_s: int, value: int) -> Judgement: ...
    def verdict(self, at: datetime) -> Verdict: ...
    def to_bytes(self) -> bytes: ...


class DetectorLookup(Protocol):
    def detector(self, key: bytes) -> DetectorRecord | None: ...


@dataclass
class AnomalyRules:
    settings: AnomalySettings

    def fold(
        self,
        batch: Sequence[Counted],
        records: dict[bytes, ChangedDetector],
        before: DetectorLookup,
        emitted_at: datetime,
        events: BatchEvents | None = None,
    ) -> list[tuple[int, int, Alert]]:
        """Feed a batch's events to every detector they concern; the alerts they fire or resolve.

        Key by key, each key's events in source order: a detector's state depends on its own
        events alone, so this folds to what event by event would, with each record read once.
        Each alert comes with the index of its event and its detector's rank, for
        :func:`in_event_order`.
        """
        s = self.settings
        fired: list[tuple[int, int, Alert]] = []
        if s.request_cost is None and s.hourly is None and s.token_drift is None:
            return fired
        events = events or BatchEvents(batch)
        by_agent, by_customer = events.groups()
        agent_runs, customer_runs = events.key_runs()
        agents = _Gathered(events, agent_runs, [agent for _, agent in by_agent])
        owners = anomaly_owners(by_agent)  # each agent's part of its detectors' keys
        if s.request_cost is not None:
            self._request_costs(
                _Fold(fired, 0, records, before, events, emitted_at), by_agent, owners, agents, s.request_cost
            )
        if s.hourly is not None:
            hourly = s.hourly
            new: Callable[[str], Detector] = lambda key: HourlySpend(key, hourly)  # noqa: E731
            load: Callable[[bytes], Detector] = lambda raw: HourlySpend.from_bytes(raw, hourly)  # noqa: E731
            # The customers' columns gathered only where a key's events are judged one by one.
            customers = _gathered_when_read(events, customer_runs)
            spend = _batch_spend(events)  # every key's sums at once, where a batch's fit int64
            # One fold a detector, not one a key: what it holds of the event at hand is set anew
            # before each read.
            fold = _Fold(fired, 1, records, before, events, emitted_at)
            spikes = fold.hourly_spikes
            keys = anomaly_keys(AlertRule.HOURLY_SPIKE, anomaly_owners(zip(by_customer, repeat(""))))
            plan = _hourly_runs(spend, customer_runs, frozenset())
            for n, (key, run, at, stored) in enumerate(
                zip(keys, by_customer.values(), customer_runs.starts, fold.stored(keys), strict=True)
            ):
                spikes(key, run, customers, at, new, load, "", hourly, plan, n, stored)
            fold = _Fold(fired, 2, records, before, events, emitted_at)
            spikes = fold.hourly_spikes
            keys = anomaly_keys(AlertRule.HOURLY_SPIKE, owners)
            plan = _hourly_runs(spend, agents.runs, frozenset(("agent",)))  # each run one agent's
            for n, (key, (_, agent), run, at, stored) in enumerate(zip(
                keys, by_agent, by_agent.values(), agents.runs.starts, fold.stored(keys), strict=True
            )):  # fmt: skip
                spikes(key, run, lambda: agents, at, new, load, agent, hourly, plan, n, stored)
        if s.token_drift is not None:
            self._token_drifts(
                _Fold(fired, 3, records, before, events, emitted_at), by_agent, owners, agents, s.token_drift
            )
        # The records in the order event by event first changed them: the changelog's order.
        keys = list(map(_KEY, sorted(events.firsts)))
        if len(keys) == len(records):  # all of them this batch's (the rules' own dict): made anew
            ordered = dict(zip(keys, map(records.__getitem__, keys), strict=True))  # in C: no frame a record
            records.clear()
            records.update(ordered)
        else:
            records.update(zip(keys, map(records.pop, keys), strict=True))
        return fired

    @staticmethod
    def _request_costs(
        fold: _Fold,
        by_agent: dict[tuple[str, str], list[int]],
        owners: list[bytes],
        agents: _Gathered,
        request: RequestCostSettings,
    ) -> None:
        new: Callable[[str], Detector] = lambda key: RequestCostHistory(key, request)  # noqa: E731
        load: Callable[[bytes], Detector] = lambda raw: RequestCostHistory.from_bytes(raw, request)  # noqa: E731
        keys = anomaly_keys(AlertRule.REQUEST_COST_ANOMALY, owners)
        left = _left(fold, keys, by_agent, agents, agents.unit_sums, new, load, request_cost_fold(request))
        if not left:  # every key folded at once (the usual)
            return
        units, epochs = fold.events.units, fold.events.epochs
        gathered_units, gathered_days, gathered_epochs = agents.units, agents.days(), agents.epochs
        for key, run, first in left:
            opened = fold.open(key, run, new, load)
            if opened is None:
                continue
            record, history = opened
            rest = fold.entered(record, run) if len(run) >= FEW else None
            if rest is None:  # a few events, or positions out of order: each checked against the mark
                for i in run:
                    if fold.enter(record, i) and history.judge(epochs[i], units[i]) is Judgement.FIRED:
                        fold.request_cost(history, request.k, request.window_days)
                continue
            absorb = cast(RequestCostHistory, history).absorb
            end = first + len(run)  # rest: the run's last events, so a stretch of the gathered columns
            begin = end - len(rest)
            run_units, run_days = gathered_units[begin:end], gathered_days[begin:end]
            at, stop = 0, len(rest)
            while at < stop:
                at = absorb(run_days, run_units, at, stop)  # most: neither fire nor need a verdict
                if at == stop:
                    break
                i = fold.index = rest[at]
                fold.epoch_s = epochs[i]
                if history.judge(epochs[i], units[i]) is Judgement.FIRED:
                    fold.request_cost(history, request.k, request.window_days)
                at += 1
            fold.entered_all(record, rest, max(record.last_seen, max(gathered_epochs[begin:end])))

    @staticmethod
    def _token_drifts(
        fold: _Fold,
        by_agent: dict[tuple[str, str], list[int]],
        owners: list[bytes],
        agents: _Gathered,
        drift: TokenDriftSettings,
    ) -> None:
        new: Callable[[str], Detector] = lambda key: TokenDrift(key, drift)  # noqa: E731
        load: Callable[[bytes], Detector] = lambda raw: TokenDrift.from_bytes(raw, drift)  # noqa: E731
        keys = anomaly_keys(AlertRule.TOKEN_DRIFT, owners)
        left = _left(fold, keys, by_agent, agents, agents.token_sums, new, load, token_drift_fold(drift))
        if not left:  # every key folded at once (the usual)
            return
        tokens, epochs = fold.events.tokens(), fold.events.epochs
        gathered_tokens, gathered_days, gathered_epochs = agents.tokens(), agents.days(), agents.epochs
        for key, run, first in left:
            run_all = gathered_tokens[first : first + len(run)]
            # A tool call has no tokens to drift.
            if min(run_all) > 0:
                counted: Sequence[int] = run
                counted_tokens, counted_days, counted_epochs = gathered_tokens, gathered_days, gathered_epochs
            else:  # the counted events' own columns, picked from the run's stretch
                keep = [t > 0 for t in run_all]
                counted = list(compress(run, keep))
                if not counted:
                    continue
                end = first + len(run)
                counted_tokens = list(compress(run_all, keep))
                counted_days = list(compress(gathered_days[first:end], keep))
                counted_epochs = list(compress(gathered_epochs[first:end], keep))
                first = 0
            opened = fold.open(key, counted, new, load)
            if opened is None:
                continue
            record, detector = opened
            rest = fold.entered(record, counted) if len(counted) >= FEW else None
            if rest is None:  # a few events, or positions out of order: each checked against the mark
                for i in counted:
                    if fold.enter(record, i):
                        fold.token_drift(record, detector, detector.judge(epochs[i], tokens[i]), drift)
                continue
            absorb = cast(TokenDrift, detector).absorb
            begin = first + len(counted) - len(rest)  # rest: the last of counted
            run_tokens = counted_tokens[begin : begin + len(rest)]
            run_days = counted_days[begin : begin + len(rest)]
            last_seen = record.last_seen
            at, stop = 0, len(rest)
            while at < stop:
                if record.episode < 0:  # then only a firing event does anything but count
                    done = absorb(run_days, run_tokens, at, stop)
                    if done > at:
                        last_seen = max(last_seen, max(counted_epochs[begin + at : begin + done]))
                        at = done
                    if at == stop:
                        break
                i = fold.index = rest[at]
                epoch_s = fold.epoch_s = epochs[i]
                fold.newest = epoch_s >= last_seen
                last_seen = max(last_seen, epoch_s)
                fold.token_drift(record, detector, detector.judge(epoch_s, tokens[i]), drift)
                at += 1
            fold.entered_all(record, rest, last_seen)


# A full kind's stretch of this many events or more is summed in array passes (contribute_coded); fewer,
# each event in turn (contribute_units): each newcomer judged alone costs ~20 us there (array passes
# and the cheapest kept one found anew), so only a long stretch gains (on the bench, a customer's
# first stretch of a batch, ~4x faster).
_ARRAY_PASSES = 1000


def _batch_spend(events: BatchEvents) -> BatchSpend | None:
    """What every hourly key's sums are made of (:mod:`streams.hourly_sums`), from the batch's codes
    where it has them; None where they may not be exact (then each key folds its events as they come)."""
    agents, skus, tasks = events.names()
    codes, source = events._codes, events.source
    kinds: list[tuple[ContributorKind, Sequence[str | None] | tuple[Ints, Sequence[str | None]]]] = [
        ("agent", agents if codes is None else (codes[1].codes, codes[1].values)),
        ("model", _codes_of(source.ledger.skus) if source is not None else skus),
    ]
    if any(tasks):
        kinds.append(("task", tasks))
    array = events.unit_array()  # the same numbers, read at once (None: one past int64)
    units = array if array is not None else events.units
    if source is not None:  # the Decimal costs of the events not in pico-dollars alone
        return BatchSpend.of(events.seconds, units, events.missing_costs(), events.missing, kinds)
    return BatchSpend.of(events.seconds, units, events.costs(), None, kinds)


def _codes_of(column: Sequence[str]) -> Sequence[str] | tuple[Ints, Sequence[str | None]]:
    """A column's codes into its distinct values, where it is :class:`Coded` (distinct values may
    repeat there: pricing's combinations); else the column."""
    if type(column) is not Coded:
        return column
    values = column.values
    distinct = {value: None for value in values}
    if len(distinct) == len(values):
        return column.codes, values
    number = {value: code for code, value in enumerate(distinct)}
    return np.array([number[value] for value in values], np.int64)[column.codes], list(distinct)


def _gathered_when_read(events: BatchEvents, runs: KeyRuns) -> Callable[[], _Gathered]:
    """The columns of ``runs``, gathered at the first call."""
    made: list[_Gathered] = []

    def gathered() -> _Gathered:
        if not made:
            made.append(_Gathered(events, runs))
        return made[0]

    return gathered


def _hourly_runs(spend: BatchSpend | None, runs: KeyRuns, one_each: frozenset[str]) -> HourlyRuns | None:
    if spend is None or not runs.order:
        return None
    return HourlyRuns(spend, runs.take(np.arange(len(runs.order), dtype=np.int64)), runs.starts, one_each)


def _left(
    fold: _Fold,
    keys: list[bytes],
    by_agent: dict[tuple[str, str], list[int]],
    agents: _Gathered,
    sums: Callable[[], DaySums | None],
    new: Callable[[str], Detector],
    load: Callable[[bytes], Detector],
    native: DayFold | None = None,
) -> list[tuple[bytes, list[int], int]]:
    """Each agent's key, run and place in ``agents`` left to fold event by event once :meth:`_Fold.quiet`
    folded the keys that ``sums`` say cannot fire (``native``: natively, where it can); all of them
    where the batch is not ordered."""
    runs = list(by_agent.values())
    summed = sums() if fold.events.ordered else None
    if summed is None:
        return list(zip(keys, runs, agents.runs.starts, strict=True))
    starts = agents.runs.starts
    return [(keys[at], runs[at], starts[at]) for at in fold.quiet(keys, summed, new, load, native)]


def in_event_order(
    alerts: list[Alert], cuts: Sequence[int], tagged: list[tuple[int, int, Alert]]
) -> list[Alert]:
    """The alerts as folding the batch event by event orders them.

    ``alerts`` are the limits' (``cuts[i]`` of them up to event ``i``); each of ``tagged`` comes with
    its event's index and a rank: a budget's (< 0) before its event's limit alerts, a detector's
    (>= 0) after them.
    """
    if not tagged:
        return alerts
    tagged.sort(key=lambda found: (found[0], found[1]))  # stable: one record's alerts in their order
    merged: list[Alert] = []
    taken = 0
    for index, rank, alert in tagged:
        upto = cuts[index] if rank >= 0 else (cuts[index - 1] if index else 0)
        merged += alerts[taken:upto]
        taken = max(taken, upto)
        merged.append(alert)
    merged += alerts[taken:]
    return merged


_Contributors = tuple[Sequence[str | None], Sequence[str | None], Sequence[str | None], Sequence[Decimal]]


def _ordered(
    partitions: list[int],
    positions: list[int],
    customers: list[str],
    arrays: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None,
    codes: npt.NDArray[np.int64] | None = None,
) -> bool:
    """Whether each partition's positions increase in batch order, and each customer is of one partition.

    ``arrays``: the partitions and positions as the batch's columns hold them, if it has them; ``codes``:
    each event's customer as a number (0 up, :func:`streams.window_batch.plan_windows`'), with them.
    """
    if arrays is not None and codes is not None and len(codes):
        parts = arrays[0]
        if int(parts.min()) != int(parts.max()):
            # A partition a customer, written by each of its events (whichever is left), against every
            # event's: all the same where each customer has one, else some event's differs.
            kept = np.empty(int(codes.max()) + 1, np.int64)
            kept[codes] = parts
            if not bool((kept[codes] == parts).all()):
                return False
    elif len(set(partitions)) > 1:
        # Each customer's partition as its last event has it, against every event's: one pass in C,
        # no (customer, partition) pair made and hashed per event.
        last = dict(zip(customers, partitions, strict=True))
        if list(map(last.__getitem__, customers)) != partitions:
            return False
    if arrays is None:
        parts = np.fromiter(partitions, np.int64, len(partitions))
        places = np.fromiter(positions, np.int64, len(positions))
    else:
        parts, places = arrays
    # The events by partition, each partition's in batch order (a stable sort): positions must rise
    # wherever the partition stays the same.
    order = stable_order(parts)
    by_part, rising = parts[order], places[order]
    return bool(((rising[1:] > rising[:-1]) | (by_part[1:] != by_part[:-1])).all())


_PARTITION, _POSITION, _PRICED = itemgetter(0), itemgetter(1), itemgetter(2)
_KEY = itemgetter(2)  # of a record's (first event, rank, key) in BatchEvents.firsts
_EVENT, _OCCURRED, _CUSTOMER = attrgetter("event"), attrgetter("occurred_at"), attrgetter("customer_id")
_AGENT, _TASK, _SKU = attrgetter("agent_id"), attrgetter("task_id"), attrgetter("sku")
_COST, _PICO, _TOKENS = attrgetter("cost"), attrgetter("cost_pico"), attrgetter("tokens")
_Columns = tuple[list[str | None], list[str | None], list[str | None], list[Decimal]]
_Names = tuple[list[str | None], list[str | None], list[str | None]]


def _missing_costs(
    batch: Sequence[Counted], decimals: Sequence[Decimal | None], missing: list[int]
) -> list[Decimal]:
    """The costs of the events without an integer cost (``missing``: :func:`_missing`), as pricing
    made them: its Decimal (``decimals``, where taken), else read from the event's object, made alone."""
    known = len(decimals) == len(batch)
    return [cost if known and (cost := decimals[i]) is not None else batch[i][2].cost for i in missing]


def _decimal_costs(
    picos: Sequence[int | None], decimals: Sequence[Decimal], missing: list[int]
) -> list[Decimal]:
    """Each event's ``cost`` as pricing made it: from its integer cost where it has one, else
    ``decimals`` (:func:`_missing_costs`, of the events ``missing`` names, in order)."""
    if type(picos) is list:  # each integer cost multiplied in C, the few others put in after
        if not missing:
            return costs_of_pico(picos)  # type: ignore[arg-type]  # no None
        filled = np.array(picos, dtype=object)
        filled[missing] = 0
        made = costs_of_pico(filled.tolist())
        for i, cost in zip(missing, decimals, strict=True):
            made[i] = cost
        return made
    given = iter(decimals)
    return [cost_of_pico(pico) if pico is not None else next(given) for pico in picos]


def _missing(picos: Sequence[int | None]) -> list[int]:
    """Where ``picos`` has no integer cost (None): a scan in C, then an identity test a value in C."""
    return loose_costs(picos)


class BatchEvents:
    """A batch's events with what the rules and detectors read of each, worked out once per event.

    Read in one visit of each event (or from the worker's :class:`EventColumns` of the batch, where
    given): a batch's events are scattered in memory, and a pass per field costs a cache miss per
    event each time.
    """

    __slots__ = ("_all", "_arrays", "_asked", "_codes", "_columns", "_costs", "_groups", "_tokens",
                 "_unit_array", "_usage", "batch", "customers", "epochs", "firsts", "missing", "ordered",
                 "partitions", "positions", "seconds", "source", "units")  # fmt: skip

    def __init__(self, batch: Sequence[Counted], columns: EventColumns | None = None) -> None:
        self.batch = batch
        self._codes: tuple[Coded, Coded] | None = None
        self._groups: _Groups | None = None
        self.source: EventColumns | None = None  # the columns read, if read from them
        if columns is not None and columns.counted is batch and len(columns.ledger.skus) == len(batch):
            # Read from the columns alone: the events' objects may not be made (streams.intake),
            # and making 80k of them costs more than judging them.
            self.source = columns
            self.partitions, self.positions = columns.partitions.tolist(), columns.positions.tolist()
            arrays = (columns.partitions, columns.positions)
            whole = columns.seconds.astype(np.int64)  # int() of each: both truncate
            self.customers, agents, picos = list(columns.customers), list(columns.agents), columns.costs
            tokens: Sequence[TokenUsage] = columns.tokens
            task_ids = columns.ledger.task_ids
            tasks: list[str | None] = (
                [task or None for task in task_ids] if any(task_ids) else [None] * len(task_ids)
            )  # '' is none
            missing = _missing(picos)
            skus = list(columns.ledger.skus)
            # Each event's Decimal cost is made where first read (:meth:`costs`: a Decimal product an
            # event), most batches reading none: the detectors and limits sum pico-dollars (units).
            costs: list[Decimal] | None = None
            decimals = _missing_costs(batch, columns.decimal_costs, missing)
            # The columns' pico-dollars of every event, those priced in Decimal too (each made from its
            # cost, exactly: a finer cost has no columns), where they hold them: none converted again.
            given_units = columns.cost_units if len(columns.cost_units) == len(batch) else None
            if columns.customer_codes is not None and columns.agent_codes is not None:  # plan_windows' codes
                self._codes = (columns.customer_codes, columns.agent_codes)
            else:  # numbered here as plan_windows numbers them (natively where built): the groups and the
                # ordering from two sorts of integers, not a tuple made and hashed an event
                self._codes = (Coded(*numbered_names(self.customers)), Coded(*numbered_names(agents)))
        else:
            items = list(map(_PRICED, batch))
            # A pass a field into lists of existing objects: tuples of each event's fields, a batch
            # of them alive at once, would make the collector rescan the heap.
            events = list(map(_EVENT, items))
            self.partitions, self.positions = list(map(_PARTITION, batch)), list(map(_POSITION, batch))
            arrays = None
            seconds = list(map(datetime.timestamp, map(_OCCURRED, events)))
            whole = np.array(seconds, dtype=np.float64).astype(np.int64)  # int() of each: both truncate
            self.customers, agents = list(map(_CUSTOMER, events)), list(map(_AGENT, events))
            tasks, picos, tokens = (
                list(map(_TASK, events)),
                list(map(_PICO, items)),
                list(map(_TOKENS, items)),
            )
            skus, costs = list(map(_SKU, items)), list(map(_COST, items))
            missing = _missing(picos)
            decimals = [costs[i] for i in missing]
            given_units = None
        # The epochs as an array too: the detectors take theirs, and their hours and days, from it.
        self.seconds = whole
        self.epochs = whole.tolist()
        # Pricing's integer cost where it has one: to_units of the cost, without converting it.
        if given_units is not None:  # the columns' own list where it is one: read, never written
            units = given_units if type(given_units) is list else list(given_units)
        else:
            units = list(picos)  # type: ignore[arg-type]  # None only where missing: set below
            for i, cost in zip(missing, decimals, strict=True):  # some priced in Decimal
                units[i] = to_units(cost)
        self.units = units
        self.missing = missing  # the events without an integer cost (None in pricing's), in order
        self._costs: list[Decimal] | tuple[Sequence[int | None], list[Decimal]] = (
            costs if costs is not None else (picos, decimals)
        )
        # Each partition's positions increase in batch order, each customer on one partition: then
        # the events of any customer's key increase too, as a replay or a batch of the worker's do.
        codes = self._codes[0].codes if self._codes is not None else None
        self.ordered = _ordered(self.partitions, self.positions, self.customers, arrays, codes)
        self._arrays = arrays
        self._tokens: list[int] | None = None
        self._unit_array: tuple[npt.NDArray[np.int64] | None] | None = None  # made at the first call
        self._usage = tokens
        self._columns: _Names = (agents, skus, tasks)  # type: ignore[assignment]  # agents: str
        self._all: _Columns | None = None
        self._asked = 0  # costs made alone (costs_at) so far
        self.firsts: list[tuple[int, int, bytes]] = []  # per record: the first event folded into it, the rank

    def position_arrays(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """:attr:`partitions` and :attr:`positions` as arrays: the columns' own, else made once."""
        if self._arrays is None:
            n = len(self.positions)
            partitions = np.fromiter(self.partitions, np.int64, n)
            self._arrays = (partitions, np.fromiter(self.positions, np.int64, n))
        return self._arrays

    @property
    def days(self) -> list[int]:
        """Each event's day (the detectors take theirs from :attr:`seconds`)."""
        return (self.seconds // DAY).tolist()  # type: ignore[no-any-return]

    @property
    def hours(self) -> list[int]:
        return (self.seconds // HOUR).tolist()  # type: ignore[no-any-return]

    def unit_array(self) -> npt.NDArray[np.int64] | None:
        """:attr:`units` as an array (made once: the limits, the detectors' sums and gathers read it);
        None where one is past int64. Not to be written to."""
        made = self._unit_array
        if made is None:
            try:
                array: npt.NDArray[np.int64] | None = np.fromiter(self.units, np.int64, len(self.units))
            except OverflowError:
                array = None
            made = self._unit_array = (array,)
        return made[0]

    def token_array(self) -> npt.NDArray[np.int64]:
        """:meth:`tokens` as an array."""
        usage = self._usage
        if type(usage) is TokenColumns:
            array = usage.array
            return cast(npt.NDArray[np.int64], array[:, 0] + array[:, 3])
        return np.array(self.tokens(), dtype=np.int64)

    def tokens(self) -> list[int]:
        if self._tokens is None:
            usage = self._usage
            found = usage.inference() if type(usage) is TokenColumns else None
            self._tokens = found if found is not None else [u.input + u.output for u in usage]
        return self._tokens

    def costs(self) -> list[Decimal]:
        """Every event's cost, in pricing's Decimal form: made at the first call."""
        made = self._costs
        if isinstance(made, tuple):
            picos, decimals = made
            made = self._costs = _decimal_costs(picos, decimals, self.missing)
        return made

    def costs_at(self, indices: Sequence[int]) -> Sequence[Decimal]:
        """:meth:`costs` of these events, made alone (as :meth:`costs` makes them: in C) where the batch's
        are not made yet, until as many were asked as the batch holds."""
        made = self._costs
        if not isinstance(made, tuple) or self._asked > len(self.units):
            return take(self.costs(), indices)
        self._asked += len(indices)
        picos, decimals = made
        picked = list(take(picos, indices))
        holes = loose_costs(picked)  # events priced in Decimal: their costs put in after
        for j in holes:
            picked[j] = 0
        costs = costs_of_pico(cast(list[int], picked))  # None no more
        for j in holes:
            costs[j] = decimals[bisect_left(self.missing, indices[j])]
        return costs

    def missing_costs(self) -> list[Decimal]:
        """The costs of the events :attr:`missing` names, in its order."""
        made = self._costs
        if isinstance(made, tuple):
            return made[1]
        return [made[i] for i in self.missing]

    def names(self) -> _Names:
        """Every event's agent, model and task (:meth:`contributors_all` without the costs)."""
        return self._columns

    def contributors_all(self) -> _Columns:
        """Every event's agent, model, task and cost."""
        made = self._all
        if made is None:
            agents, skus, tasks = self._columns
            made = self._all = (agents, skus, tasks, self.costs())
        return made

    def contributors(self, indices: Sequence[int]) -> _Contributors:
        """The agents, models, tasks and costs of these events."""
        columns = self.contributors_all()
        if len(indices) == 1:
            i = indices[0]
            return tuple([column[i]] for column in columns)  # type: ignore[return-value]
        take = itemgetter(*indices)
        return take(columns[0]), take(columns[1]), take(columns[2]), take(columns[3])

    def groups(self) -> tuple[dict[tuple[str, str], list[int]], dict[str, list[int]]]:
        """The events' indices per customer's agent and per customer, in source order (made once)."""
        if self._groups is None:
            if self._codes is not None:
                self._groups = _groups_of_codes(*self._codes)
            else:
                by_agent, by_customer = self._groups_of_names()
                self._groups = (by_agent, by_customer, None)
        return self._groups[0], self._groups[1]

    def key_runs(self) -> tuple[KeyRuns, KeyRuns]:
        """:meth:`groups`' runs laid end to end (:class:`KeyRuns`): the agents', the customers'."""
        self.groups()
        by_agent, by_customer, laid = cast(_Groups, self._groups)
        if laid is None:
            laid = (KeyRuns(by_agent.values()), KeyRuns(by_customer.values()))
            self._groups = (by_agent, by_customer, laid)
        return laid

    def _groups_of_names(self) -> tuple[dict[tuple[str, str], list[int]], dict[str, list[int]]]:
        by_agent: dict[tuple[str, str], list[int]] = {}
        for i, key in enumerate(zip(self.customers, self._columns[0], strict=True)):
            run = by_agent.get(key)  # type: ignore[arg-type]  # every event has an agent
            if run is None:
                by_agent[key] = [i]  # type: ignore[index]
            else:
                run.append(i)
        parts: dict[str, list[list[int]]] = {}
        for (customer, _), run in by_agent.items():
            parts.setdefault(customer, []).append(run)
        # A customer's agents' runs merged in source order (a sort of sorted runs: merges, in C).
        by_customer = {customer: runs[0] if len(runs) == 1 else sorted(chain.from_iterable(runs))
                       for customer, runs in parts.items()}  # fmt: skip
        return by_agent, by_customer


# By customer's agent, by customer, and their runs laid end to end (None: not made yet).
_Groups = tuple[dict[tuple[str, str], list[int]], dict[str, list[int]], tuple[KeyRuns, KeyRuns] | None]


def _groups_of_codes(customers: Coded, agents: Coded) -> _Groups:
    """:meth:`BatchEvents.groups` from the batch's codes: two stable sorts of integers and a slice of
    one list per key, not a tuple made and hashed per event (a batch has ~100k events, ~16k keys);
    with each grouping's runs laid end to end (:meth:`BatchEvents.key_runs`), made from the same sort."""
    customer, agent = customers.codes, agents.codes
    if not len(customer):
        return {}, {}, None
    firsts, runs, agent_runs = _runs(customer * (int(agent.max()) + 1) + agent)
    names, agent_names = customers.values, agents.values
    pairs = zip(customer[firsts].tolist(), agent[firsts].tolist(), strict=True)
    by_agent = {(names[c], agent_names[a]): run for (c, a), run in zip(pairs, runs, strict=True)}
    firsts, runs, customer_runs = _runs(customer)
    by_customer = {names[c]: run for c, run in zip(customer[firsts].tolist(), runs, strict=True)}
    return by_agent, by_customer, (agent_runs, customer_runs)


def _runs(key: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], list[list[int]], KeyRuns]:
    """Each distinct ``key``'s first event and its events in source order (a stable sort keeps
    them so), keys in the order of their first events; and those runs laid end to end."""
    order = stable_order(key)
    ordered = key[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    sizes = np.diff(np.append(starts, len(order)))
    firsts = order[starts]
    seen = stable_order(firsts)  # distinct: any sort is the stable one
    # The runs in the order of their first events, end to end: each place's event, in one gather.
    sizes = sizes[seen]
    laid_starts = np.cumsum(sizes) - sizes
    at = order[np.repeat(starts[seen] - laid_starts, sizes) + np.arange(len(order))]
    events: list[int] = at.tolist()
    begins = laid_starts.tolist()
    runs = [events[start:stop] for start, stop in zip(begins, (laid_starts + sizes).tolist(), strict=True)]
    return firsts[seen], runs, KeyRuns.laid(at, events, begins)


class _Gathered:
    """The columns the detectors read, of a batch's events in the order of ``runs``: a run's
    values are a slice of them (:mod:`streams.key_runs`)."""

    __slots__ = ("_agents", "_contributors", "_days", "_epochs", "_events", "_hours", "_seconds", "_tokens",
                 "_units", "runs")  # fmt: skip

    def __init__(self, events: BatchEvents, runs: KeyRuns, agents: Sequence[str] | None = None) -> None:
        """``agents``: each run's agent, if the runs are of one agent each."""
        self._events, self.runs, self._agents = events, runs, agents
        self._seconds = runs.take(events.seconds)
        # The lists made at the first read: only keys folded event by event read them (most
        # batches' keys are folded from their sums), and each is a list of the batch's size.
        self._epochs: Sequence[int] | None = None
        self._hours: Sequence[int] | None = None
        self._units: Sequence[int] | None = None
        self._days: Sequence[int] | None = None
        self._tokens: Sequence[int] | None = None
        self._contributors: _Contributors | None = None

    # From the array: ints made anew in order beat ints read where the batch left them.
    @property
    def epochs(self) -> Sequence[int]:
        if self._epochs is None:
            self._epochs = self._seconds.tolist()
        return self._epochs

    @property
    def hours(self) -> Sequence[int]:
        if self._hours is None:
            self._hours = (self._seconds // HOUR).tolist()
        return self._hours

    @property
    def units(self) -> Sequence[int]:
        if self._units is None:
            events, runs = self._events, self.runs
            array = events.unit_array()
            # Ints made anew from the array beat a gather of the list's (and making its getter).
            self._units = runs.take(array).tolist() if array is not None else runs.gather(events.units)
        return self._units

    def days(self) -> Sequence[int]:
        if self._days is None:
            self._days = (self._seconds // DAY).tolist()
        return self._days

    def tokens(self) -> Sequence[int]:
        if self._tokens is None:
            self._tokens = self.runs.gather(self._events.tokens())
        return self._tokens

    def unit_sums(self) -> DaySums | None:
        """Each run's costs summed (:func:`day_sums`)."""
        units = self._events.unit_array()  # None: one past int64, as day_sums would find
        return day_sums(self.runs.positions(), self.runs.starts, self._seconds,
                        units if units is not None else self._events.units)  # fmt: skip

    def token_sums(self) -> DaySums | None:
        """Each run's tokens summed (:func:`day_sums`), of its events with tokens (not tool calls)."""
        try:
            tokens = self._events.token_array()
        except OverflowError:  # past 64 bits: event by event
            return None
        order = self.runs.positions()
        return day_sums(order, self.runs.starts, self._seconds, tokens, tokens[order] > 0)

    def contributors(self) -> _Contributors:
        """Each event's agent, model, task and cost."""
        if self._contributors is None:
            runs = self.runs
            gather = runs.gather
            agents, skus, tasks, costs = self._events.contributors_all()
            # Made, not read where the batch left them, where that is known: each run's agent over
            # and over, or no task at all (most batches).
            ours = (
                None
                if self._agents is None
                else list(chain.from_iterable(map(repeat, self._agents, runs.sizes())))
            )
            self._contributors = (
                gather(agents) if ours is None else ours,
                gather(skus),
                gather(tasks) if any(tasks) else [None] * len(runs.order),
                gather(costs),
            )
        return self._contributors


@dataclass(slots=True)
class _Fold:
    """One detector's events of a batch, key by key: their records, and the alerts they fire or resolve."""

    alerts: list[tuple[int, int, Alert]]
    rank: int  # the detector's place among an event's alerts
    records: dict[bytes, ChangedDetector]
    before: DetectorLookup
    events: BatchEvents
    emitted_at: datetime
    index: int = 0  # the event at hand
    epoch_s: int = 0
    newest: bool = True  # no event later than it folded into the detector at hand

    def open(
        self,
        key: bytes,
        run: Sequence[int],
        new: Callable[[str], Detector],
        load: Callable[[bytes], Detector],
        stored: DetectorRecord | Literal[False] | None = False,
    ) -> tuple[DetectorRecord, Detector] | None:
        """The key's record and detector as of the batch; None if every event of ``run`` was folded before.
        ``stored``: the key's record before the batch, where :meth:`stored` read it (False: not read)."""
        record = _decoded(self.records.get(key)) or (self.before.detector(key) if stored is False else stored)
        positions = self.events.positions  # not the events' objects, which a batch of columns lacks
        if record is None:
            record, first = DetectorRecord(b""), run[0]
        else:
            folded = record.position
            for first in run:
                if positions[first] > folded:
                    break
            else:
                return None  # counted before this batch was replayed
        detector: Detector | None = record.detector  # type: ignore[assignment]  # a Detector when set
        if detector is None:
            detector = _detector(key, record, new, load)
        self.records[key] = record
        self.events.firsts.append((first, self.rank, key))
        return record, detector

    def stored(self, keys: Sequence[bytes]) -> Sequence[DetectorRecord | None]:
        """Each key's record before the batch: read at once where the store can (a table's, in C)."""
        read_all = getattr(self.before, "detectors", None)
        return read_all(keys) if read_all is not None else list(map(self.before.detector, keys))  # type: ignore[no-any-return]

    def quiet(
        self,
        keys: Sequence[bytes],
        sums: DaySums,
        new: Callable[[str], Detector],
        load: Callable[[bytes], Detector],
        native: DayFold | None = None,
    ) -> list[int]:
        """Fold at once each key whose counted events (``sums``: of its run) are all new to its
        record, of one day, and cannot fire (its detector's ``absorb_sums``), as :meth:`open`,
        :meth:`enter` and the detector's judge each would; the places of the other keys with
        events counted, to fold event by event. Only for a batch whose events are :attr:`BatchEvents.ordered`.

        ``native``: the keys' stored bytes folded to the bytes to store in one call, where the store
        hands out its bytes (``detector_raws``) and no key has a record of this batch yet.
        """
        raws_of, array = getattr(self.before, "detector_raws", None), sums.array
        if (
            native is not None
            and array is not None
            and raws_of is not None
            and self.records.keys().isdisjoint(keys)  # else the batch's own records are the ones to read
        ):
            return self._quiet_native(keys, array, native, raws_of(keys))
        events = self.events
        positions, partitions = events.positions, events.partitions
        records = self.records
        firsts, rank = events.firsts, self.rank
        found = self.stored(keys)
        left: list[int] = []
        rows = zip(keys, found, sums.days, sums.counts, sums.sums, sums.most, sums.least, sums.newest,
                   sums.firsts, sums.lasts, strict=True)  # fmt: skip
        for at, (key, stored, day, count, total, most, least, newest, first, last) in enumerate(rows):
            if day < 0:  # none counted (not opened), or of several days
                if count:
                    left.append(at)
                continue
            record = _decoded(records.get(key)) or stored
            if record is None:
                record = DetectorRecord(b"")
            elif positions[first] <= record.position or record.episode >= 0:
                left.append(at)  # a replay's, or an episode going: each event may resolve it
                continue
            detector: Any = record.detector  # a detector of days (RequestCostHistory, TokenDrift)
            if detector is None:
                detector = _detector(key, record, new, load)
            if not detector.absorb_sums(day, total, count, most, least):
                left.append(at)
                continue
            records[key] = record
            firsts.append((first, rank, key))
            record.position, record.partition = positions[last], partitions[last]
            if newest > record.last_seen:
                record.last_seen = newest
        return left

    def _quiet_native(
        self, keys: Sequence[bytes], sums: npt.NDArray[np.int64], native: DayFold, raws: list[bytes | None]
    ) -> list[int]:
        """:meth:`quiet` natively: the folded keys' records kept as the bytes made for them."""
        partitions, positions = self.events.position_arrays()
        firsts, lasts = sums[6], sums[7]
        columns = np.empty((len(keys), 9), np.int64)  # a row a key, as the fold reads them
        columns[:, :6] = sums[:6].T
        columns[:, 6], columns[:, 7], columns[:, 8] = positions[firsts], positions[lasts], partitions[lasts]
        folded, made, left = native(keys if type(keys) is list else list(keys), raws, columns)
        if folded:
            chosen = take(keys, folded)
            partitions_made = columns[folded, 8].tolist()
            self.records.update(zip(chosen, map(EncodedRecord, made, partitions_made), strict=True))
            self.events.firsts.extend(
                zip(firsts[folded].tolist(), repeat(self.rank, len(folded)), chosen, strict=True)
            )
        return left

    def enter(self, record: DetectorRecord, i: int) -> bool:
        """Make event ``i`` the one at hand; False if it was folded into ``record`` before."""
        events = self.events
        partition, pos = events.partitions[i], events.positions[i]
        if pos <= record.position:
            return False
        epoch_s = events.epochs[i]
        self.index, self.epoch_s = i, epoch_s
        record.position, record.partition = pos, partition
        self.newest = epoch_s >= record.last_seen
        if epoch_s > record.last_seen:
            record.last_seen = epoch_s
        return True

    def entered(self, record: DetectorRecord, run: Sequence[int]) -> Sequence[int] | None:
        """The events of ``run`` not folded into ``record`` before, as :meth:`enter` would take them;
        None unless their positions increase (then :meth:`enter` must check each in turn)."""
        positions = self.events.positions
        mark = record.position
        start = 0
        while start < len(run) and positions[run[start]] <= mark:
            start += 1  # a replay's events counted before: the first few at most
        rest = run[start:] if start else run
        if self.events.ordered or len(rest) < 2:
            return rest
        taken = take(positions, rest)
        return None if any(map(ge, taken, taken[1:])) else rest

    def entered_all(self, record: DetectorRecord, rest: Sequence[int], last_seen: int) -> None:
        """The record's marks after the events of :meth:`entered`, as :meth:`enter` leaves them."""
        if rest:
            last = rest[-1]
            record.position, record.partition = self.events.positions[last], self.events.partitions[last]
            record.last_seen = last_seen

    def hourly_spikes(
        self,
        key: bytes,
        run: Sequence[int],
        gathered: Callable[[], _Gathered],
        first: int,
        new: Callable[[str], Detector],
        load: Callable[[bytes], Detector],
        subject: str,
        settings: HourlySpikeSettings,
        plan: HourlyRuns | None = None,
        n: int = -1,
        stored: DetectorRecord | Literal[False] | None = False,
    ) -> None:
        """Key ``key``'s events (``run``, ``first`` in the order of the runs ``gathered`` gives
        the columns of; run ``n`` of ``plan``; ``stored``: as :meth:`open` takes it)."""
        opened = self.open(key, run, new, load, stored)
        if opened is None:
            return
        record, spend = opened
        if plan is not None and self.events.positions[run[0]] > record.position:
            rest = self.entered(record, run) if len(run) > 1 else run
            if rest is run:  # all of the run, in order: its stretches' sums as they are
                self._hourly_summed(record, cast(HourlySpend, spend), run, gathered, first, plan, n, subject,
                                    settings)  # fmt: skip
                return
        runs = gathered()
        rest = self.entered(record, run) if len(run) >= FEW_HOURLY else None
        if rest is None:  # a few events, or positions out of order: each checked against the mark
            self._hourly_one_by_one(record, spend, run, runs, subject, settings)
            return
        units = self.events.units
        absorb = cast(HourlySpend, spend).absorb
        pending: list[int] = []  # the hour's events, their contributors not yet added
        last_seen = record.last_seen
        begin = first + len(run) - len(rest)  # rest: the run's last events, a stretch of runs' columns
        run_hours = runs.hours[begin : begin + len(rest)]
        epochs, laid_units = runs.epochs, runs.units
        start, stop = 0, len(rest)
        while start < stop:
            hour_n = run_hours[start]
            if not start and run_hours.count(hour_n) == stop:  # usually: all of one hour
                end = stop
            else:
                end = start + 1
                while end < stop and run_hours[end] == hour_n:
                    end += 1
            part = rest[start:end]
            part_epochs = epochs[begin + start : begin + end]
            hour = hour_n * HOUR
            # Without an episode going, only an event that fires does anything but count.
            if record.episode < 0 and absorb(hour_n, part_epochs, laid_units[begin + start : begin + end]):
                if hour > record.hour:
                    record.hour = hour
                    record.contributors.clear()
                    pending.clear()
                if hour == record.hour:
                    pending += part
                last_seen = max(last_seen, max(part_epochs))
            else:
                for i, epoch_s in zip(part, part_epochs, strict=True):
                    self.index, self.epoch_s, self.newest = i, epoch_s, epoch_s >= last_seen
                    if epoch_s > last_seen:
                        last_seen = epoch_s
                    self._hourly_event(record, spend, pending, runs, hour, units[i], subject, settings)
            start = end
        # pending: some of rest, in its order; all of it (the usual) a stretch of runs' columns at begin.
        self._contribute(record, pending, runs, begin if len(pending) == len(rest) else -1)
        self.entered_all(record, rest, last_seen)

    def _hourly_summed(
        self,
        record: DetectorRecord,
        spend: HourlySpend,
        run: Sequence[int],
        gathered: Callable[[], _Gathered],
        first: int,
        plan: HourlyRuns,
        n: int,
        subject: str,
        settings: HourlySpikeSettings,
    ) -> None:
        """:meth:`hourly_spikes` of a whole run, a stretch of one hour at a time: the stretch's sums
        where none of its events can fire (nor an episode is going), else each event in turn."""
        last_seen = record.last_seen
        steady, refund, minute_bounds = plan.steady, plan.refund, plan.minute_bounds
        for s in range(plan.bounds[n], plan.bounds[n + 1]):
            # Without an episode going, only an event that fires does anything but count. A stretch
            # without a refund, its times in order (most): by its sums, read here (one call a key).
            if record.episode < 0 and (
                _absorbed(spend, plan, s, gathered)
                if refund[s] or not steady[s]
                else spend.absorb_sums(
                    plan.seg_hours[s],
                    plan.first[s],
                    plan.latest[s],
                    plan.spent[s],
                    plan.minutes[minute_bounds[s] : minute_bounds[s + 1]],
                    plan.minute_sums[minute_bounds[s] : minute_bounds[s + 1]],
                )
            ):
                hour = plan.seg_hours[s] * HOUR
                if hour >= record.hour:
                    if hour > record.hour:
                        record.hour = hour
                        record.contributors.clear()
                    self._contribute_sums(record.contributors, plan, s, run, first)
                latest = plan.latest[s]
                if latest > last_seen:
                    last_seen = latest
                continue
            begin, end = plan.seg_starts[s], plan.seg_ends[s]
            units, runs = self.events.units, gathered()
            pending: list[int] = []
            hour = plan.seg_hours[s] * HOUR
            for i, epoch_s in zip(run[begin - first : end - first], runs.epochs[begin:end], strict=True):
                self.index, self.epoch_s, self.newest = i, epoch_s, epoch_s >= last_seen
                if epoch_s > last_seen:
                    last_seen = epoch_s
                self._hourly_event(record, spend, pending, runs, hour, units[i], subject, settings)
            self._contribute(record, pending, runs, begin if len(pending) == end - begin else -1)
        last = run[-1]
        record.position, record.partition = self.events.positions[last], self.events.partitions[last]
        record.last_seen = last_seen

    def _contribute_sums(
        self,
        contributors: dict[str, dict[str, Decimal]],
        plan: HourlyRuns,
        s: int,
        run: Sequence[int],
        first: int,
    ) -> None:
        """The hour's contributors plus stretch ``s``'s (no refund among them), by their sums."""
        if not plan.unmixed[s]:  # an event without an agent or a model: each event in turn
            begin, end = plan.seg_starts[s], plan.seg_ends[s]
            add_contributor_columns(contributors, *self.events.contributors(run[begin - first : end - first]))
            return
        for sums in plan.kinds:
            bounds = sums.bounds
            g0, g1 = bounds[s], bounds[s + 1]
            if g0 == g1:
                continue
            kind = sums.kind
            costs = contributors.get(kind)
            if g1 - g0 == 1:  # most: an agent's one model, or an agent's own detector's agent
                ident = sums.names[g0]
                if costs is None:  # a first cost, as it comes
                    contributors[kind] = {ident: sums.total(g0)}
                    continue
                had = costs.get(ident)
                if had is not None:
                    costs[ident] = sums.added(g0, had)
                    continue
                if len(costs) < MAX_CONTRIBUTORS:
                    costs[ident] = sums.total(g0)
                    continue
            if not add_contributor_units(contributors, sums, g0, g1):
                # A full kind's newcomers one by one: in pico-dollars, in array passes between the
                # newcomers that may come in (many events) or each in turn (a few); else in Decimal.
                begin, end = plan.seg_starts[s], plan.seg_ends[s]
                kept = contributors.setdefault(kind, {})
                exponents = plan.exponents
                if NATIVE:  # each event in turn, in native code (native/src/hourly.rs)
                    codes, units = plan.codes[kind][0][begin:end], plan.units[begin:end]
                    if contribute_native(kept, codes, plan.names(kind), plan.numbers(kind), units,
                                         None if exponents is None else exponents[begin:end]):  # fmt: skip
                        continue
                if end - begin >= _ARRAY_PASSES:
                    codes, values = plan.codes[kind]
                    numbers, units = plan.numbers(kind), plan.units[begin:end]
                    if contribute_coded(kept, codes[begin:end], values, numbers, units,
                                        None if exponents is None else exponents[begin:end]):  # fmt: skip
                        continue
                indices = run[begin - first : end - first]
                if not contribute_units(
                    kept,
                    self._kind_names(kind, indices),
                    take(self.events.units, indices),
                    None if exponents is None else exponents[begin:end].tolist(),
                ):
                    idents, amounts = self._kind_column(kind, indices)
                    _contribute_each(kept, idents, amounts)

    def _kind_column(
        self, kind: str, indices: Sequence[int]
    ) -> tuple[Sequence[str | None], Sequence[Decimal]]:
        """These events' contributors of ``kind``, and their costs."""
        return self._kind_names(kind, indices), self.events.costs_at(indices)

    def _kind_names(self, kind: str, indices: Sequence[int]) -> Sequence[str | None]:
        """These events' contributors of ``kind``."""
        agents, skus, tasks = self.events.names()
        return take(agents if kind == "agent" else skus if kind == "model" else tasks, indices)

    def _hourly_one_by_one(
        self,
        record: DetectorRecord,
        spend: Detector,
        run: Sequence[int],
        runs: _Gathered,
        subject: str,
        settings: HourlySpikeSettings,
    ) -> None:
        units = self.events.units
        pending: list[int] = []
        for i in run:
            if self.enter(record, i):
                hour = self.epoch_s - self.epoch_s % HOUR
                self._hourly_event(record, spend, pending, runs, hour, units[i], subject, settings)
        self._contribute(record, pending, runs)

    def _contribute(self, record: DetectorRecord, pending: list[int], runs: _Gathered, at: int = -1) -> None:
        """:func:`add_contributor_columns` of these events (of one run of ``runs``, in its order): theirs,
        without their objects. ``at``: where they lie in ``runs``' order if known to be a stretch of it."""
        if len(pending) >= FEW:
            span = runs.runs.span(pending) if at < 0 else (at, at + len(pending))
            if span is None:  # some of the run's events left out (late for the hour, folded before)
                add_contributor_columns(record.contributors, *self.events.contributors(pending))
            else:
                begin, end = span
                agents, skus, tasks, costs = runs.contributors()
                add_contributor_columns(
                    record.contributors,
                    agents[begin:end],
                    skus[begin:end],
                    tasks[begin:end],
                    costs[begin:end],
                )
        else:  # read from the batch's columns: an event's fields are three lookups away
            agents, skus, tasks, costs = self.events.contributors_all()
            contributors = record.contributors
            for i in pending:
                cost = costs[i]
                contribute(contributors, "agent", agents[i], cost)
                contribute(contributors, "model", skus[i], cost)
                if tasks[i]:  # most events have none: no call to find it out
                    contribute(contributors, "task", tasks[i], cost)
        pending.clear()

    def _hourly_event(
        self,
        record: DetectorRecord,
        spend: Detector,
        pending: list[int],
        runs: _Gathered,
        hour: int,
        units: int,
        subject: str,
        settings: HourlySpikeSettings,
    ) -> None:
        """The event at hand (:meth:`enter`) into its key's hourly spend, and the alert it may make."""
        if hour > record.hour:
            record.hour = hour
            record.contributors.clear()
            pending.clear()
        if hour == record.hour:
            pending.append(self.index)
        judgement = spend.judge(self.epoch_s, units)
        if _changes_episode(judgement, record.episode, self.newest):
            self._contribute(record, pending, runs)
            self.hourly_spike(record, spend, judgement, hour, subject, settings.ratio)

    def request_cost(self, history: Detector, k: Decimal, window_days: int) -> None:
        """The alert of the request at hand, which its history judged FIRED."""
        priced = self.events.batch[self.index][2]
        event = priced.event
        verdict = history.verdict(event.occurred_at)
        request = event.request_id or event.event_id
        day = event.occurred_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        figures = {"cost": verdict.observed, "average": verdict.baseline, "threshold": verdict.threshold,
                   "ratio": verdict.ratio}  # fmt: skip
        what = (
            f"request {request} cost {verdict.observed} is {verdict.ratio}x the agent's average "
            f"{verdict.baseline}, over {k}x ({verdict.basis})"
        )
        contributors = [Contributor(kind="agent", id=event.agent_id, cost=priced.cost),
                        Contributor(kind="model", id=priced.sku, cost=priced.cost)]  # fmt: skip
        if event.task_id:
            contributors.append(Contributor(kind="task", id=event.task_id, cost=priced.cost))
        self._emit(AlertRule.REQUEST_COST_ANOMALY, AlertStatus.FIRING, "request", request, event.occurred_at,
                   (day - timedelta(days=window_days - 1), event.occurred_at), k, figures, what,
                   contributors)  # fmt: skip

    def hourly_spike(
        self,
        record: DetectorRecord,
        spend: Detector,
        judgement: Judgement,
        hour: int,
        subject: str,
        ratio: Decimal,
    ) -> None:
        """The alert of the event at hand, which fires or resolves an episode of its key."""
        event = self.events.batch[self.index][2].event

        def explain() -> tuple[dict[str, Decimal], str]:
            verdict = spend.verdict(event.occurred_at)
            figures = {"spend": verdict.observed, "baseline": verdict.baseline,
                       "threshold": verdict.threshold, "ratio": verdict.ratio}  # fmt: skip
            return figures, (
                f"spend {verdict.observed} in the hour against a threshold of {verdict.threshold} "
                f"({ratio}x {verdict.baseline}, {verdict.basis})"
            )

        self._episode(record, judgement, AlertRule.HOURLY_SPIKE, hour, HOUR, subject, ratio, explain)

    def token_drift(
        self, record: DetectorRecord, drift: Detector, judgement: Judgement, settings: TokenDriftSettings
    ) -> None:
        if not _changes_episode(judgement, record.episode, self.newest):
            return
        event = self.events.batch[self.index][2].event
        day = self.epoch_s - self.epoch_s % DAY

        def explain() -> tuple[dict[str, Decimal], str]:
            verdict = drift.verdict(event.occurred_at)
            figures = {"tokens_per_request": verdict.observed, "baseline": verdict.baseline,
                       "threshold": verdict.threshold, "ratio": verdict.ratio}  # fmt: skip
            return figures, (
                f"{verdict.observed} tokens per request against {verdict.baseline} "
                f"(threshold {verdict.threshold}; {verdict.basis})"
            )

        span = (settings.recent_days - 1) * DAY
        self._episode(record, judgement, AlertRule.TOKEN_DRIFT, day - span, span + DAY, event.agent_id,
                      settings.ratio, explain)  # fmt: skip

    def _episode(
        self,
        record: DetectorRecord,
        judgement: Judgement,
        rule: AlertRule,
        start: int,
        length: int,
        subject: str,
        threshold: Decimal,
        explain: Callable[[], tuple[dict[str, Decimal], str]],
    ) -> None:
        """Fire when an episode begins, resolve at the first normal verdict of the newest time."""
        scope = "agent" if subject else "customer"
        if judgement is Judgement.FIRED and record.episode < 0:
            record.episode = start
            figures, what = explain()
            bounds = (_at(start), _at(start + length))
            self._emit(rule, AlertStatus.FIRING, scope, subject, bounds[0], bounds, threshold, figures, what,
                       top_contributors(record.contributors))  # fmt: skip
        elif judgement is Judgement.NORMAL and record.episode >= 0 and self.newest:
            since, record.episode = record.episode, -1
            figures, what = explain()
            bounds = (_at(since), _at(start + length))
            self._emit(rule, AlertStatus.RESOLVED, scope, subject, bounds[0], bounds, threshold, figures,
                       f"back to normal: {what}", top_contributors(record.contributors))  # fmt: skip

    def _emit(
        self,
        rule: AlertRule,
        status: AlertStatus,
        scope: str,
        subject: str,
        since: datetime,
        bounds: tuple[datetime, datetime],
        threshold: Decimal,
        observed: dict[str, Decimal],
        what: str,
        contributors: list[Contributor],
    ) -> None:
        event = self.events.batch[self.index][2].event
        owner = f"{event.customer_id}\x1f{event.agent_id if scope != 'customer' else ''}"
        who = event.customer_id if scope == "customer" else f"{event.customer_id}, agent {event.agent_id}"
        self.alerts.append((self.index, self.rank,
            Alert(
                alert_id=alert_id(rule, owner, subject, since, threshold, status),
                rule=rule,
                status=status,
                customer_id=event.customer_id,
                budget_id="",
                scope=scope,
                subject=subject,
                period_start=bounds[0],
                period_end=bounds[1],
                threshold=threshold,
                observed=observed,
                top_contributors=contributors,
                reason=f"{status}: {who}: {what}",
                occurred_at=event.occurred_at,
                emitted_at=self.emitted_at,
            ),
        ))  # fmt: skip


def _absorbed(spend: HourlySpend, plan: HourlyRuns, s: int, gathered: Callable[[], _Gathered]) -> bool:
    """:meth:`HourlySpend.absorb` of stretch ``s`` by its events' (a refund among them, or times going
    back: :meth:`_Fold._hourly_summed` takes the others' sums)."""
    begin, end, runs = plan.seg_starts[s], plan.seg_ends[s], gathered()
    return spend.absorb(plan.seg_hours[s], runs.epochs[begin:end], runs.units[begin:end])


def _detector(
    key: bytes, record: DetectorRecord, new: Callable[[str], Detector], load: Callable[[bytes], Detector]
) -> Detector:
    """The record's detector, read from its state (or made anew) and kept in it."""
    try:
        detector = load(record.state) if record.state else new(key.decode())
    except (StateFormatError, ValueError, KeyError, TypeError) as exc:
        log.warning("anomaly state %r unreadable (%s): it starts afresh", key, exc)
        detector = new(key.decode())
    record.detector = detector
    return detector


def _decoded(record: ChangedDetector | None) -> DetectorRecord | None:
    """A record of the batch as the reference folds into it (none is natively folded twice a batch: one
    detector's keys are folded once each)."""
    return record.decoded() if type(record) is EncodedRecord else record  # type: ignore[return-value]


def take(column: Sequence[T], indices: Sequence[int]) -> Sequence[T]:
    """``column``'s items at ``indices``, gathered in C."""
    if len(indices) == 1:
        return [column[indices[0]]]
    return cast(Sequence[T], itemgetter(*indices)(column))


def _changes_episode(judgement: Judgement, episode: int, newest: bool) -> bool:
    """Whether :meth:`_Fold._episode` fires or resolves on this judgement (most events: neither)."""
    if judgement is Judgement.FIRED:
        return episode < 0
    return judgement is Judgement.NORMAL and episode >= 0 and newest


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
