"""What the worker remembers per budget and per task to evaluate spend rules. Pure: no I/O.

Each record keeps the highest source position folded into it, as window
aggregates do (:mod:`streams.aggregation`): a budget's spend is all on its
customer's partition, in order, so an event at or below the mark was already
counted and a replayed batch re-folds to the same record. The record also
says which conditions have fired and which resolved, so a replay fires
nothing twice.

Records are JSON in the changelog (decimals as strings), detectors' MessagePack
(:meth:`DetectorRecord.encode`); they change only for events that match a
budget or carry a task id, or that a detector folds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import compress, repeat
from operator import eq, itemgetter, not_
from typing import Any, Protocol

import msgspec
import orjson

from schemas.alerts import AlertStatus, Contributor, ContributorKind
from schemas.money import ZERO
from streams.anomalies.picodollars import to_units

_SEP = "\x1f"  # identifiers may not hold control characters
BUDGET_PREFIX = "b"
TASK_PREFIX = "t"
ANOMALY_PREFIX = "a"
RULES_MARK_PREFIX = "~rules"  # starts with "~" as the windows table's marks do
# Contributors kept per kind: when full, the smallest goes, so the top few
# stay exact for any realistic spread (the long tail is approximate).
MAX_CONTRIBUTORS = 32
_COST_THEN_ID = itemgetter(1, 0)  # contribute's order of eviction: smallest cost, then id
CONTRIBUTOR_KINDS: tuple[ContributorKind, ...] = ("agent", "model", "task")
# A pass over a run's events per contributor beats one visit of each event only for this few:
# each pass costs a quarter of a visit (bench/spend_cost.py).
_PASSES_UPTO = 2


def budget_key(budget_id: str, subject: str) -> bytes:
    return _SEP.join((BUDGET_PREFIX, budget_id, subject)).encode()


def task_key(customer_id: str, task_id: str) -> bytes:
    return _SEP.join((TASK_PREFIX, customer_id, task_id)).encode()


def anomaly_key(kind: str, customer_id: str, agent_id: str) -> bytes:
    """One detector's state: ``agent_id`` "" for a detector of the whole customer."""
    return _SEP.join((ANOMALY_PREFIX, kind, customer_id, agent_id)).encode()


def anomaly_owners(owners: Iterable[tuple[str, str]]) -> list[bytes]:
    """Each ``(customer_id, agent_id)``'s part of its :func:`anomaly_key`, for :func:`anomaly_keys`."""
    return [f"{customer}{_SEP}{agent}".encode() for customer, agent in owners]


def anomaly_keys(kind: str, owners: Sequence[bytes]) -> list[bytes]:
    """:func:`anomaly_key` of each of :func:`anomaly_owners`: a batch's keys of a kind in one pass,
    each owner's part encoded once for all kinds."""
    head = _SEP.join((ANOMALY_PREFIX, kind, "")).encode()
    return [head + owner for owner in owners]


def rules_mark_key(partition: int) -> bytes:
    return f"{RULES_MARK_PREFIX}{_SEP}{partition}".encode()


def key_head(prefix: str) -> bytes:
    """The first bytes of every key of a kind (its prefix and the separator)."""
    return f"{prefix}{_SEP}".encode()


def split_key(raw: bytes) -> list[str]:
    return raw.decode().split(_SEP)


_encode = msgspec.json.encode
_pack = msgspec.msgpack.Encoder().encode  # a decimal as its str, as JSON's
# DetectorRecord.encode's array: position, partition, last seen, episode, hour, contributors, state.
_unpack_detector = msgspec.msgpack.Decoder(
    tuple[int, int, int, int, int, dict[str, dict[str, Decimal]], bytes]
).decode


def _dumps(value: Any) -> bytes:
    # msgspec writes what orjson.dumps(value, default=str) wrote (a decimal as its str), byte for
    # byte, with no call back per decimal; and orjson's bytes, kept in the table as these are,
    # cost ~3.5 µs a detector's header against ~1 µs (bench/spend_records.py).
    return _encode(value)


def contribute(
    contributors: dict[str, dict[str, Decimal]], kind: ContributorKind, ident: str | None, cost: Decimal
) -> None:
    if not ident:
        return
    costs = contributors.setdefault(kind, {})
    costs[ident] = costs.get(ident, ZERO) + cost
    if len(costs) > MAX_CONTRIBUTORS:
        smallest = min(costs, key=lambda k: (costs[k], k))
        del costs[smallest]


def add_contributor_columns(
    contributors: dict[str, dict[str, Decimal]],
    agents: Sequence[str | None],
    models: Sequence[str | None],
    tasks: Sequence[str | None],
    amounts: Sequence[Decimal],
) -> None:
    """As :func:`contribute` for each event's agent, model and task in turn, of the events whose
    agents, models, tasks and costs these are.

    Summed per contributor first where the kind cannot overflow :data:`MAX_CONTRIBUTORS`: no
    eviction then, Decimal sums are exact, and new contributors keep their order of arrival.
    """
    # Event by event where a kind may be made out of its turn (an event without agent or model).
    if not (all(agents) and all(models)):
        for agent, model, task, amount in zip(agents, models, tasks, amounts, strict=True):
            contribute(contributors, "agent", agent, amount)
            contribute(contributors, "model", model, amount)
            contribute(contributors, "task", task, amount)
        return
    kinds: tuple[tuple[ContributorKind, Sequence[str | None]], ...] = (
        ("agent", agents),
        ("model", models),
        ("task", tasks),
    )
    few = len(amounts) < 8  # kind by kind, one by one: summing costs more
    for kind, idents in kinds:
        first = idents[0]
        if few:
            if any(idents):  # the kind is made at its first contributor, as contribute makes it
                _contribute_each(contributors.setdefault(kind, {}), idents, amounts)
            continue
        if idents.count(first) == len(idents):  # one contributor: an agent's own detector, one task
            if not first:
                continue
            arrived: dict[str | None, None] = {first: None}
        else:
            arrived = dict.fromkeys(idents)
            arrived.pop(None, None)
            arrived.pop("", None)
            if not arrived:
                continue
        costs = contributors.get(kind)
        if len(arrived.keys() | (costs or {}).keys()) > MAX_CONTRIBUTORS:  # some are evicted on the way
            _contribute_each(contributors.setdefault(kind, {}), idents, amounts)
            continue
        if costs is None:
            costs = contributors[kind] = {}
        for ident, cost in _summed(idents, amounts, arrived).items():
            costs[ident] = costs.get(ident, ZERO) + cost


def newcomers_kept_out(costs: dict[str, Decimal], fresh: Sequence[bool], costliest: Iterable[int]) -> bool:
    """Whether a kind whose contributors ``fresh`` marks as new would pass :data:`MAX_CONTRIBUTORS` keeps
    every newcomer out: the kind is full already, and each newcomer's costliest event (``costliest``, in
    pico-dollars) costs less than the cheapest kept contributor (which only grows), so each would come
    and go at each of its events. False: some come in before the kind is full, or may stay."""
    if len(costs) < MAX_CONTRIBUTORS:
        return False
    least = to_units(min(costs.items(), key=_COST_THEN_ID)[1])
    # Each pico-dollar figure within half a unit of its Decimal's: below by more than one, surely below.
    return bool(max(compress(costliest, fresh)) < least - 1)


def add_contributor_sums(
    contributors: dict[str, dict[str, Decimal]],
    kind: ContributorKind,
    idents: Sequence[str],
    totals: Sequence[Decimal],
    costliest: Sequence[int],
) -> bool:
    """As :func:`contribute` of one kind for each of some events, none a refund, given per
    contributor (in the order they first come): its costs summed in order and its costliest
    event's cost in pico-dollars. False, and nothing changed, where that needs the events one by one.

    Summed where no contributor is evicted on the way. Where the kind is full, a newcomer whose
    every event costs less than the cheapest kept one (which only grows) would come and go at
    each of its events: the kept ones take their sums, the newcomers nothing.
    """
    costs = contributors.get(kind)
    if costs is None:
        if len(idents) > MAX_CONTRIBUTORS:
            return False
        contributors[kind] = {ident: ZERO + total for ident, total in zip(idents, totals, strict=True)}
        return True
    if len(costs) + len(idents) > MAX_CONTRIBUTORS:
        fresh = [ident not in costs for ident in idents]
        if len(costs) + sum(fresh) > MAX_CONTRIBUTORS:
            if not newcomers_kept_out(costs, fresh, costliest):
                return False  # one by one
            kept = list(map(not_, fresh))
            for ident, total in zip(compress(idents, kept), compress(totals, kept), strict=True):
                costs[ident] += total
            return True
    for ident, total in zip(idents, totals, strict=True):
        costs[ident] = costs.get(ident, ZERO) + total
    return True


def _contribute_each(
    costs: dict[str, Decimal], idents: Sequence[str | None], amounts: Sequence[Decimal]
) -> None:
    """:func:`contribute` of each in turn, to one kind's ``costs``.

    A full kind's smallest (by cost, then id) is found once and kept until it may have changed:
    a newcomer below it is the one :func:`contribute` would evict at once, leaving ``costs`` as
    they were, so it costs a comparison, not a scan of them all (a customer's many tasks).
    """
    smallest: tuple[Decimal, str] | None = None  # costs' smallest while full; None: not known
    for ident, amount in zip(idents, amounts, strict=True):
        if not ident:
            continue
        had = costs.get(ident)
        if had is not None:
            total = costs[ident] = had + amount
            if smallest is not None and (ident == smallest[1] or (total, ident) < smallest):
                smallest = None
            continue
        value = ZERO + amount
        if len(costs) < MAX_CONTRIBUTORS:
            costs[ident] = value
            continue
        if smallest is None:
            least = min(costs.items(), key=_COST_THEN_ID)
            smallest = (least[1], least[0])
        if (value, ident) < smallest:
            continue  # it would come in and go out again
        costs[ident] = value
        del costs[smallest[1]]
        smallest = None


def _summed(
    idents: Sequence[str | None], amounts: Sequence[Decimal], arrived: dict[str | None, None]
) -> dict[str, Decimal]:
    """Each contributor's amounts added in order (the first to nothing: its exponent kept), in the
    order the contributors first come (``arrived``, without the events that have none)."""
    if len(arrived) == 1 and len(idents) == idents.count(first := next(iter(arrived))):
        assert first
        return {first: sum(amounts[1:], amounts[0])}
    sums: dict[str, Decimal] = {}
    if len(arrived) <= _PASSES_UPTO and len(arrived) * 8 <= len(idents):  # a pass each, in C
        for ident in arrived:
            assert ident
            picked = list(compress(amounts, map(eq, idents, repeat(ident))))
            sums[ident] = sum(picked[1:], picked[0])
        return sums
    # One visit of each event, its amount put with its contributor's; each one's then summed in C.
    grouped: dict[str | None, list[Decimal]] = {}
    for ident, amount in zip(idents, amounts, strict=True):
        same = grouped.get(ident)
        if same is None:
            grouped[ident] = [amount]
        else:
            same.append(amount)
    for ident, picked in grouped.items():
        if ident:
            sums[ident] = sum(picked[1:], picked[0])
    return sums


def top_contributors(contributors: dict[str, dict[str, Decimal]], per_kind: int = 3) -> list[Contributor]:
    top: list[Contributor] = []
    for kind in CONTRIBUTOR_KINDS:
        costs = contributors.get(kind, {})
        ranked = sorted(costs.items(), key=lambda item: (-item[1], item[0]))[:per_kind]
        top += [Contributor(kind=kind, id=ident, cost=cost) for ident, cost in ranked]
    return top


@dataclass(slots=True)
class Fired:
    """A condition's state within a period: firing, or resolved (and not to fire again)."""

    status: AlertStatus
    since: int  # epoch seconds: the period (or, rolling, the episode) the alert ids name


@dataclass(slots=True)
class BudgetSpend:
    """One budget's (and subject's) spend in its current period."""

    period_start: int  # epoch seconds; for a rolling budget, the start of the window
    spend: Decimal = ZERO
    hourly: dict[int, Decimal] = field(default_factory=dict)  # rolling budgets: hour start -> spend
    position: int = -1
    partition: int = -1
    last_seen: int = 0  # event time of the newest event folded
    contributors: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    fired: dict[str, Fired] = field(default_factory=dict)

    def contribute(self, kind: ContributorKind, ident: str | None, cost: Decimal) -> None:
        contribute(self.contributors, kind, ident, cost)

    def top(self, per_kind: int = 3) -> list[Contributor]:
        return top_contributors(self.contributors, per_kind)

    def encode(self) -> bytes:
        return _dumps(
            {
                "period_start": self.period_start,
                "spend": self.spend,
                "hourly": {str(h): v for h, v in self.hourly.items()},
                "position": self.position,
                "partition": self.partition,
                "last_seen": self.last_seen,
                "contributors": self.contributors,
                "fired": {k: [str(f.status), f.since] for k, f in self.fired.items()},
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> BudgetSpend:
        d = orjson.loads(raw)
        return cls(
            period_start=d["period_start"],
            spend=Decimal(d["spend"]),
            hourly={int(h): Decimal(v) for h, v in d["hourly"].items()},
            position=d["position"],
            partition=d["partition"],
            last_seen=d["last_seen"],
            contributors={k: {i: Decimal(c) for i, c in v.items()} for k, v in d["contributors"].items()},
            fired={k: Fired(AlertStatus(s), since) for k, (s, since) in d["fired"].items()},
        )


@dataclass(slots=True)
class TaskTally:
    """One task's running totals, for the per-task limits; expired when idle."""

    first_seen: int
    cost: Decimal = ZERO
    tokens: int = 0  # inference tokens: input plus output
    position: int = -1
    partition: int = -1
    last_seen: int = 0
    fired: list[str] = field(default_factory=list)  # the limits it has passed

    def encode(self) -> bytes:
        return _dumps(
            [
                self.first_seen,
                self.cost,
                self.tokens,
                self.position,
                self.partition,
                self.last_seen,
                self.fired,
            ]
        )

    @classmethod
    def decode(cls, raw: bytes) -> TaskTally:
        first, cost, tokens, position, partition, last_seen, fired = orjson.loads(raw)
        return cls(first, Decimal(cost), tokens, position, partition, last_seen, fired)


@dataclass(slots=True)
class RulesMark:
    """Per partition: the highest position the stateless rules (per request) have seen."""

    position: int = -1
    event_time: int = 0  # the newest event time seen, for expiring idle tasks

    def encode(self) -> bytes:
        return f"{self.position},{self.event_time}".encode()

    @classmethod
    def decode(cls, raw: bytes) -> RulesMark:
        position, event_time = raw.decode().split(",")
        return cls(int(position), int(event_time))


class DetectorState(Protocol):
    def to_bytes(self) -> bytes: ...


@dataclass(slots=True)
class DetectorRecord:
    """One anomaly detector's state (:mod:`streams.anomalies`) with the marks the stream needs.

    ``position`` makes a replayed event count once, as a budget's record does;
    ``episode`` is the start (epoch seconds) of the anomaly firing now, -1 when
    none is: it names the alert and its ``resolved``. ``contributors`` are the
    current hour's (hourly spikes only). The detector's own bytes follow a header line.
    """

    state: bytes  # the detector's to_bytes(); b"" for a new one
    position: int = -1
    partition: int = -1
    last_seen: int = 0  # event time of the newest event folded
    episode: int = -1
    hour: int = -1  # the hour the contributors are for
    contributors: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    detector: DetectorState | None = None  # decoded from ``state`` while a batch folds into it

    def encode(self) -> bytes:
        """One MessagePack array: the header's fields, the contributors' costs as strings, the state's bytes.

        A record older than session 15 is JSON, the header's array then a line of the state's
        bytes: :meth:`decode` reads both (the JSON starts with ``[``, the array never does).
        """
        if self.detector is not None:
            self.state = self.detector.to_bytes()
        return _pack((self.position, self.partition, self.last_seen, self.episode, self.hour,
                      self.contributors, self.state))  # fmt: skip

    @classmethod
    def decode(cls, raw: bytes) -> DetectorRecord:
        if raw[:1] != b"[":
            position, partition, last_seen, episode, hour, costs, state = _unpack_detector(raw)
            return cls(state, position, partition, last_seen, episode, hour, costs)
        header, _, state = raw.partition(b"\n")
        position, partition, last_seen, episode, hour, contributors = orjson.loads(header)
        costs = {k: {i: Decimal(c) for i, c in v.items()} for k, v in contributors.items()}
        return cls(state, position, partition, last_seen, episode, hour, costs)


class EncodedRecord:
    """A detector's record as a native fold wrote it (:mod:`streams.day_folds`): the bytes to store and
    their partition, nothing decoded. Read again as a :class:`DetectorRecord` (:meth:`decoded`)."""

    __slots__ = ("partition", "raw")

    def __init__(self, raw: bytes, partition: int) -> None:
        self.raw = raw
        self.partition = partition

    def encode(self) -> bytes:
        return self.raw

    def decoded(self) -> DetectorRecord:
        return DetectorRecord.decode(self.raw)


# A batch's changed detector records: decoded, or as a native fold wrote them.
ChangedDetector = DetectorRecord | EncodedRecord
