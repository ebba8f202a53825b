"""A batch's events as columns, and its windows grouped from them. Pure: no I/O.

:func:`streams.aggregation.fold` walks every event through its four
windows in Python. Here a batch is read once into columns (event time,
partition, position, ids, what each event adds), events are grouped into
cells, one per (customer, agent, category, smallest window), and each
window's sums are added from its cells' sums with NumPy. Python then runs
once per window, not four times per event. That pays where cells hold
several events (live traffic: ~0.7 windows an event); where nearly every
event is a cell of its own (a sparse backfill: ~2.7 windows an event),
this fold costs more than the event-by-event one, and only the columns
shared with dedup and the watermarks make up for it.

The result is :func:`~streams.aggregation.fold`'s, exactly: an event adds
to a window whose mark (``last_offset``) is below its position. Where that
cannot be decided window by window (a window's positions not increasing
in batch order, a window partly folded before, sums that might not fit in
64 bits, an agent named like the rollup) :func:`fold_plan` answers
``None`` and the caller folds event by event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import compress, repeat, starmap
from operator import attrgetter, eq, is_, is_not, itemgetter, not_
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from schemas.money import ZERO, to_pico
from streams.aggregation import (
    AGGREGATE_FIELDS,
    ALL_AGENTS,
    Counted,
    FoldResult,
    WindowAggregate,
    WindowKey,
)
from streams.column_groups import Grouping, codes, combine
from streams.pricing import TokenUsage
from streams.stored_windows import StoredWindows
from streams.window_changes import KeyColumns, WindowChanges

Ints = npt.NDArray[np.int64]

_ITEM = itemgetter(2)
_PARTITION = itemgetter(0)
_POSITION = itemgetter(1)
_EVENT = attrgetter("event")
_OCCURRED = attrgetter("occurred_at")
# A pass a field into lists: lists of existing objects are all the collector sees, where
# tuples of an event's fields, a batch of them alive at once, made it rescan the heap.
_EVENT_FIELDS = [attrgetter(name) for name in ("customer_id", "event_id", "agent_id", "kind")]
_PRICED_FIELDS = [attrgetter(name) for name in ("cost_pico", "events", "quantity", "tokens", "category")]
# One pass a field: the tokens are visited already, and a pass is cheaper than tuples to transpose.
_TOKEN_FIELDS = [attrgetter(name) for name in ("input", "cached_input", "cache_write", "output", "reasoning")]
_START = itemgetter(4)
# The fields a window's state adds the batch's sums to: all but its mark and partition, which the
# batch's replace.
_BASE_FIELDS = attrgetter(*list(AGGREGATE_FIELDS)[:-2])
_LAST_OFFSET = attrgetter("last_offset")
_SUMS = 9  # the integer fields a window adds, in WindowAggregate's order, quantity aside
_INT64_MAX = 2**63 - 1


class Coded(Sequence[Any]):
    """A column of a few distinct values: each row a code into ``values``. A row is looked up where
    it is read; the whole list is made once, where the column is read through."""

    __slots__ = ("_made", "codes", "values")

    def __init__(self, codes: Ints, values: Sequence[Any]) -> None:
        self.codes, self.values = codes, values
        self._made: list[Any] | None = None

    def __len__(self) -> int:
        return len(self.codes)

    def _list(self) -> list[Any]:
        if self._made is None:
            # Each row's value taken by NumPy from the values as objects: a Python lookup a row
            # cost three times it.
            self._made = _objects(self.values)[self.codes].tolist()
        return self._made

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> Coded: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return Coded(self.codes[index], self.values)
        return self.values[int(self.codes[index])]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._list())


class TokenColumns(Sequence[TokenUsage]):
    """Each event's :class:`TokenUsage` held as an (events, 5) int64 array: input, cached input,
    cache write, output and reasoning tokens, no media tokens (what :mod:`streams.intake` prices as
    columns). Windows and the ledger read the array; the objects are made only if something reads
    them as objects, all at once."""

    __slots__ = ("_made", "array")

    def __init__(self, array: Ints) -> None:
        self.array = array
        self._made: list[TokenUsage] | None = None

    def __len__(self) -> int:
        return len(self.array)

    def _objects(self) -> list[TokenUsage]:
        if self._made is None:
            self._made = list(starmap(TokenUsage, self.array.tolist()))
        return self._made

    @overload
    def __getitem__(self, index: int) -> TokenUsage: ...
    @overload
    def __getitem__(self, index: slice) -> TokenColumns: ...
    def __getitem__(self, index: int | slice) -> TokenUsage | TokenColumns:
        if isinstance(index, slice):
            return TokenColumns(self.array[index])
        return self._objects()[index]

    def __iter__(self) -> Iterator[TokenUsage]:
        return iter(self._objects())

    def inference(self) -> list[int]:
        """Each event's input plus output tokens."""
        found: list[int] = (self.array[:, 0] + self.array[:, 3]).tolist()
        return found


@dataclass(slots=True)
class EventColumns:
    """The counted events of a batch, and the columns every stage after pricing reads.

    Each event's objects are visited once, every field taken in that visit:
    a batch's events are scattered in memory, and a pass per field cost a
    cache miss per event each time.
    """

    counted: Sequence[Counted]  # a CountedBatch whose objects may not be made yet
    partitions: Ints
    positions: Ints
    seconds: npt.NDArray[np.float64]  # occurred_at, epoch seconds
    customers: Sequence[str]
    event_ids: Sequence[str]
    agents: Sequence[str]
    kinds: Sequence[str]
    # Of the PricedEvent, in _PRICED's order after its event.
    costs: Sequence[int | None]
    counts: Sequence[int]
    quantities: Sequence[Decimal]
    tokens: Sequence[Any]
    categories: Sequence[str]
    # What the ledger reads (:func:`streams.sinks.table_columns.ledger_columns`), spend control its SKUs
    # and task ids (:class:`streams.anomaly_rules.BatchEvents`): filled as the
    # events are decoded, so the sink never visits an event's objects again. See :class:`LedgerFacts`.
    ledger: LedgerFacts = field(default_factory=lambda: LedgerFacts.of(()))
    # Each event's cost in pico-dollars, also where pricing computed it in Decimal (``costs``' None).
    cost_units: Sequence[int] = ()
    # Pricing's Decimal cost where it has no integer one (``costs``' None), else None: spend control
    # sums Decimal costs, in pricing's own form, without the events' objects.
    decimal_costs: Sequence[Decimal | None] = ()
    # ``customers`` and ``agents`` as codes into their distinct names (Coded's), once
    # :func:`plan_windows` numbered them: the ledger's block writes those columns from the codes.
    customer_codes: Coded | None = None
    agent_codes: Coded | None = None
    # Whether every event's ``occurred_at`` was sent in UTC (``Z`` or ``+00:00``, all the wire columns
    # admit): its datetime is then its microsecond in UTC, and what reads it needs not the event's object.
    utc_times: bool = False

    @classmethod
    def of(cls, counted: Sequence[Counted]) -> EventColumns:
        if (
            type(counted) is CountedBatch
            and counted.columns is not None
            and len(counted.columns) == len(counted)
        ):
            # Taken as the events were priced (streams.intake), and handed over once: left in
            # place, the batch and its columns would hold each other, a cycle that only the
            # worker's rare full collection frees, so every batch's events would pile up.
            columns, counted.columns = counted.columns, None
            return columns
        n = len(counted)
        if n == 0:
            none = np.zeros(0, np.int64)
            return cls(counted, none, none, np.zeros(0), (), (), (), (), (), (), (), (), ())
        items = list(map(_ITEM, counted))
        events = list(map(_EVENT, items))
        customers, event_ids, agents, kinds = (list(map(getter, events)) for getter in _EVENT_FIELDS)
        costs, counts, quantities, tokens, categories = (
            list(map(getter, items)) for getter in _PRICED_FIELDS
        )
        return cls(
            counted,
            np.fromiter(map(_PARTITION, counted), np.int64, n),
            np.fromiter(map(_POSITION, counted), np.int64, n),
            np.fromiter(map(datetime.timestamp, map(_OCCURRED, events)), np.float64, n),
            customers, event_ids, agents, kinds, costs, counts, quantities, tokens, categories,
            LedgerFacts.of(items), cost_units(costs, items), decimal_costs(costs, items),
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.counted)

    def select(self, keep: npt.NDArray[np.bool_]) -> EventColumns:
        if keep.all():
            return self
        chosen = keep.tolist()
        lists: tuple[Sequence[Any], ...] = (
            self.customers,
            self.event_ids,
            self.agents,
            self.kinds,
            self.costs,
            self.counts,
        )
        more: tuple[Sequence[Any], ...] = (self.quantities, self.categories)
        customers, event_ids, agents, kinds, costs, counts, quantities, categories = (
            list(compress(column, chosen)) for column in (*lists, *more)
        )
        tokens: Sequence[Any] = (
            TokenColumns(self.tokens.array[keep])
            if type(self.tokens) is TokenColumns
            else list(compress(self.tokens, chosen))
        )
        counted = self.counted
        return EventColumns(
            counted.chosen(chosen) if type(counted) is CountedBatch else list(compress(counted, chosen)),
            self.partitions[keep],
            self.positions[keep],
            self.seconds[keep],
            customers, event_ids, agents, kinds, costs, counts, quantities, tokens, categories,
            self.ledger.select(chosen), list(compress(self.cost_units, chosen)),
            list(compress(self.decimal_costs, chosen)), utc_times=self.utc_times,
        )  # fmt: skip

    def id_keys(self) -> list[bytes]:
        """:func:`streams.dedup.id_key` of each event, built in C."""
        joined = map(str.__add__, map(str.__add__, self.customers, repeat("\x00")), self.event_ids)
        return list(map(str.encode, joined))

    def watermarks(self, previous: dict[int, int]) -> dict[int, int]:
        """Each partition's highest whole event second, from ``previous`` on."""
        marks = dict(previous)
        at = self.seconds.astype(np.int64)  # truncated, as int(timestamp)
        for partition in marks:
            highest = int(at[self.partitions == partition].max(initial=marks[partition]))
            marks[partition] = max(marks[partition], highest)
        return marks


# LedgerFacts' fields, in order: each a column of the batch's rows.
_FACTS = (
    "user_ids", "task_ids", "request_ids", "attributes",  # '' for no id; {} for no attributes
    "providers", "skus", "models_sent", "units", "price_versions",  # as pricing set them
    "batched", "service_tiers",  # an LLM call's (False and '' for any other event)
    "outcome_types", "outcome_values", "successes",  # an outcome's ('', None, True for others)
    "corrects", "reprice_runs",  # a correction's ('' for others)
)  # fmt: skip
_OPTIONAL_IDS = [attrgetter(name) for name in ("user_id", "task_id", "request_id")]
_PRICE_FIELDS = [attrgetter(name) for name in ("provider", "sku", "model_sent", "unit", "price_version")]
_ATTRIBUTES = attrgetter("attributes")


@dataclass(slots=True)
class LedgerFacts:
    """The ledger's columns of a batch's events that windows and dedup do not read, one list a column.

    Values as :func:`streams.sinks.table_columns.ledger_columns` writes them: an outcome's
    value in units of 1e-12 (None where it has none), no id as ''.
    """

    user_ids: Sequence[str]
    task_ids: Sequence[str]
    request_ids: Sequence[str]
    attributes: Sequence[dict[str, str]]
    providers: Sequence[str]
    skus: Sequence[str]
    models_sent: Sequence[str]
    units: Sequence[str]
    price_versions: Sequence[str]
    batched: Sequence[bool]
    service_tiers: Sequence[str]
    outcome_types: Sequence[str]
    outcome_values: Sequence[int | None]
    successes: Sequence[bool]
    corrects: Sequence[str]
    reprice_runs: Sequence[str]
    # Not columns of their own (not in _FACTS), kept where pricing had them as numbers (streams.intake):
    # each row's quantity in units of 1e-12, and its price combination, an index into ``price_combos``
    # (each a row's kind, provider, SKU, model sent, unit and price version, ``kind`` as its category).
    # The ledger's block writes them as they are, not from the lists. None where read from objects.
    _: KW_ONLY
    quantity_units: Sequence[int] | None = None
    price_codes: Ints | None = None
    price_combos: Sequence[tuple[str, ...]] = ()

    @classmethod
    def of(cls, priced: Sequence[Any]) -> LedgerFacts:
        """The facts of these :class:`~streams.pricing.PricedEvent`, read from their objects."""
        rows = len(priced)
        events = list(map(_EVENT, priced))
        users, tasks, requests = ([i or "" for i in map(getter, events)] for getter in _OPTIONAL_IDS)
        providers, skus, models, units, versions = (list(map(getter, priced)) for getter in _PRICE_FIELDS)
        batched, tiers, outcome_types = [False] * rows, [""] * rows, [""] * rows
        values: list[int | None] = [None] * rows
        successes, corrects, runs = [True] * rows, [""] * rows, [""] * rows
        for row, event in enumerate(events):
            kind = event.kind
            if kind == "llm":
                if event.batch or event.service_tier is not None:
                    batched[row], tiers[row] = bool(event.batch), event.tier or ""
            elif kind == "outcome":
                outcome_types[row], successes[row] = event.outcome_type, event.success
                if event.value is not None:
                    values[row] = to_pico(event.value)
            elif kind == "correction":
                corrects[row], runs[row] = event.corrects, event.run_id
        attributes = list(map(_ATTRIBUTES, events))
        return cls(
            users, tasks, requests, attributes, providers, skus, models, units, versions,
            batched, tiers, outcome_types, values, successes, corrects, runs,
        )  # fmt: skip

    def select(self, chosen: list[bool]) -> LedgerFacts:
        selected = LedgerFacts(*(list(compress(getattr(self, name), chosen)) for name in _FACTS))
        if self.quantity_units is not None:
            selected.quantity_units = list(compress(self.quantity_units, chosen))
        if self.price_codes is not None:
            selected.price_codes = self.price_codes[np.array(chosen, np.bool_)]
            selected.price_combos = self.price_combos
        return selected

    def cut(self, where: slice) -> LedgerFacts:
        """The facts of the rows ``where``."""
        cut = LedgerFacts(*(getattr(self, name)[where] for name in _FACTS))
        if self.quantity_units is not None:
            cut.quantity_units = self.quantity_units[where]
        if self.price_codes is not None:
            cut.price_codes, cut.price_combos = self.price_codes[where], self.price_combos
        return cut

    def __iter__(self) -> Iterator[Sequence[Any]]:
        """Every column, in :data:`_FACTS`' order."""
        return (getattr(self, name) for name in _FACTS)


def cost_units(costs: Sequence[int | None], priced: Sequence[Any]) -> list[int]:
    """Pricing's pico-dollar ints, and where it has none (``costs``' None) its Decimal's."""
    units = list(costs)
    if None in units:  # priced in Decimal; a cache of conversions costs as much as converting
        for i in compress(range(len(units)), map(is_, units, repeat(None))):
            units[i] = to_pico(priced[i].cost)
    return units  # type: ignore[return-value]  # no None left


def decimal_costs(costs: Sequence[int | None], priced: Sequence[Any]) -> list[Decimal | None]:
    """Pricing's Decimal cost of each event it priced in Decimal (``costs``' None), else None."""
    found: list[Decimal | None] = [None] * len(costs)
    if None in costs:
        for i in compress(range(len(costs)), map(is_, costs, repeat(None))):
            found[i] = priced[i].cost
    return found


class CountedBatch(Sequence[Counted]):
    """A batch's counted events, and their columns where they were taken as the events were
    priced (:func:`streams.intake.decode_and_price`). A slice or copy is a plain list.

    The events' objects may be made only when first read (``make``): events read and priced
    as columns (:mod:`streams.wire_columns`) need none for the stages that read columns (windows,
    dedup, the ledger, spend control), only for what still reads objects (an alert's event, a
    task's, a fold event by event, refused rows). One event read by its index is made alone
    (``row``), once, where the batch can: an alert in a batch of 80k events needs one object,
    not 80k.
    """

    __slots__ = ("__weakref__", "_items", "_make", "_row", "_rows", "_size", "columns")

    def __init__(
        self,
        items: Iterable[Counted] = (),
        make: Callable[[], list[Counted]] | None = None,
        size: int = 0,
        row: Callable[[int], Counted] | None = None,
    ) -> None:
        self._items: list[Counted] | None = None if make is not None else list(items)
        self._make = make
        self._row = row if make is not None else None
        self._rows: dict[int, Counted] = {}  # events made alone, by index
        self._size = size if make is not None else len(self._items or ())
        self.columns: EventColumns | None = None

    @property
    def made(self) -> bool:
        """Whether the events' objects exist."""
        return self._items is not None

    def items(self) -> list[Counted]:
        """The events, made now if they were not yet."""
        if self._items is None:
            assert self._make is not None
            items = self._make()
            assert len(items) == self._size
            for index, made in self._rows.items():  # one object per event, whichever way made
                items[index] = made
            self._items, self._make, self._row = items, None, None
        return self._items

    def one(self, index: int) -> Counted:
        """The event at ``index`` (not negative), made alone where the rest are not made."""
        if self._items is not None or self._row is None:
            return self.items()[index]
        if not 0 <= index < self._size:
            raise IndexError(index)
        found = self._rows.get(index)
        if found is None:
            found = self._rows[index] = self._row(index)
        return found

    def view(self, where: slice) -> CountedBatch:
        """The events ``where`` (a slice with no step), made only when read."""
        if self._items is not None:
            return CountedBatch(self._items[where])
        start, stop, _ = where.indices(self._size)
        return CountedBatch(
            make=lambda: self.items()[where], size=max(stop - start, 0), row=lambda i: self.one(start + i)
        )

    def chosen(self, keep: list[bool]) -> CountedBatch:
        """The events ``keep`` marks, made only when read."""
        if self._items is not None:
            return CountedBatch(compress(self._items, keep))
        picked = list(compress(range(self._size), keep))
        return CountedBatch(
            make=lambda: list(compress(self.items(), keep)),
            size=len(picked),
            row=lambda i: self.one(picked[i]),
        )

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> Counted: ...
    @overload
    def __getitem__(self, index: slice) -> list[Counted]: ...
    def __getitem__(self, index: int | slice) -> Counted | list[Counted]:
        if isinstance(index, int) and self._items is None:
            return self.one(index + self._size if index < 0 else index)
        return self.items()[index]

    def __iter__(self) -> Iterator[Counted]:
        return iter(self.items())

    def append(self, item: Counted) -> None:
        self.items().append(item)
        self._size += 1


@dataclass(slots=True)
class WindowPlan:
    """Every window a batch touches and what the batch adds to each, before state is read."""

    batch: EventColumns
    key_columns: KeyColumns
    raw_keys: list[bytes]  # WindowKey.encode() of each
    window_partitions: Ints  # the partition of each window's last event
    first_partitions: Ints  # and of its first
    sizes: Ints  # each window's size
    ends: Ints  # and end, epoch seconds
    first: Ints  # each window's lowest event position
    last: Ints  # and highest
    sums: Ints  # (windows, _SUMS): the integer fields' sums; meaningless where not ``exact``
    quantities: list[Decimal]
    event_windows: list[Ints]  # per window kind, each event's window
    exact: bool  # whether fold() may decide window by window
    _keys: list[WindowKey] | None = None

    @property
    def keys(self) -> list[WindowKey]:
        """Each window's key, made on the first read: most batches read only ``raw_keys``."""
        if self._keys is None:
            self._keys = self.key_columns.keys()
        return self._keys


def plan_windows(batch: EventColumns, sizes: Sequence[int]) -> WindowPlan:
    """Group ``batch`` into cells with one sort, cells into windows, and sum what each window gets.

    A cell is a (customer, agent, category, smallest window): every window of
    either size and level is a grouping of cells, so only the cells' grouping
    reads each event. Sums run in rows' order within a group (a stable sort),
    as :func:`streams.aggregation.fold` adds them.
    """
    n = len(batch)
    if n == 0:
        return _empty(batch)
    at = batch.seconds.astype(np.int64)
    step = math.gcd(*sizes)
    bases = at - at % step
    customer, customers = codes(batch.customers)
    agent, agents = codes(batch.agents)
    batch.customer_codes, batch.agent_codes = Coded(customer, customers), Coded(agent, agents)
    category, categories = codes(batch.categories)
    cells = Grouping.by(combine(customer, agent, category, (bases - bases.min()) // step))
    values, exact = _increments(batch)
    cell_sums = cells.add(values)
    # Decimal has no NumPy dtype; an object array's reduceat adds them in C. ZERO first, as a new
    # window's sum starts from it: its exponent is the sum's where every quantity's is above it.
    quantities = np.empty(n + 1, dtype=object)
    quantities[0] = ZERO
    quantities[1:] = np.fromiter(batch.quantities, dtype=object, count=n)  # a list's items, copied in C
    cell_quantities = cells.add(quantities[1:]) + quantities[0]
    cell_first, cell_last = cells.first, cells.last()  # rows
    cell_customer, cell_agent, cell_category = customer[cell_first], agent[cell_first], category[cell_first]
    cell_bases = bases[cell_first]
    no_agent = np.zeros(len(cells), np.int64)

    all_agents = len(agents)  # the rollup's code: its name follows the agents'
    key_customers: list[Ints] = []
    key_agents: list[Ints] = []
    key_categories: list[Ints] = []
    window_starts: list[Ints] = []
    window_sizes: list[Ints] = []
    firsts: list[Ints] = []
    lasts: list[Ints] = []
    sums: list[Ints] = []
    window_quantities: list[Decimal] = []
    event_windows: list[Ints] = []
    count = 0
    for size in sizes:
        starts = cell_bases - cell_bases % size
        offsets = (starts - starts.min()) // size
        for per_agent in (True, False):
            if size == step and per_agent:  # a cell's own window: one each
                windows = Grouping.each(len(cells))
            else:
                agent_of = cell_agent if per_agent else no_agent
                windows = Grouping.by(combine(cell_customer, agent_of, cell_category, offsets))
            chosen = windows.first  # a cell of each window, to name it
            key_customers.append(cell_customer[chosen])
            key_agents.append(
                cell_agent[chosen] if per_agent else np.full(len(windows), all_agents, np.int64)
            )
            key_categories.append(cell_category[chosen])
            window_starts.append(starts[chosen])
            window_sizes.append(np.full(len(windows), size, np.int64))
            event_windows.append(windows.group_of[cells.group_of] + count)
            firsts.append(windows.min(cell_first))
            lasts.append(windows.max(cell_last))
            sums.append(windows.add(cell_sums))
            window_quantities += windows.add(cell_quantities).tolist()
            count += len(windows)
    names = (customers, [*agents, ALL_AGENTS], categories)
    key_columns = KeyColumns(
        np.concatenate(key_customers), np.concatenate(key_agents), np.concatenate(key_categories),
        np.concatenate(window_sizes), np.concatenate(window_starts), names,
    )  # fmt: skip
    window_first, window_last = np.concatenate(firsts), np.concatenate(lasts)
    exact = (
        exact
        and ALL_AGENTS not in agents
        and _increasing(batch.positions, event_windows, batch.partitions, customer)
    )
    return WindowPlan(
        batch,
        key_columns,
        key_columns.encoded(),
        batch.partitions[window_last],
        batch.partitions[window_first],
        key_columns.sizes,
        key_columns.starts + key_columns.sizes,
        batch.positions[window_first],
        batch.positions[window_last],
        np.concatenate(sums),
        window_quantities,
        event_windows,
        exact,
    )


def _empty(batch: EventColumns) -> WindowPlan:
    none = np.zeros(0, np.int64)
    keys = KeyColumns(none, none, none, none, none, ([], [], []))
    return WindowPlan(
        batch, keys, [], none, none, none, none, none, none, np.zeros((0, _SUMS), np.int64), [], [], True
    )


def _increasing(
    positions: Ints, event_windows: list[Ints], partitions: Ints | None = None, customers: Ints | None = None
) -> bool:
    """Are each window's positions increasing in batch order? Then a window's mark alone
    says which of its events it has counted.

    ``partitions`` and ``customers`` (codes), where given, decide it without a sort a window
    kind where they can: a window is one customer's, so where each customer's events are on
    one partition and each partition's positions increase, so do each window's."""
    if len(positions) < 2 or bool(np.all(np.diff(positions) > 0)):
        return True
    if partitions is not None and customers is not None and _by_partition(positions, partitions, customers):
        return True
    for windows in event_windows:
        order = np.argsort(windows, kind="stable")
        same = np.diff(windows[order]) == 0
        if bool(np.any(same & (np.diff(positions[order]) <= 0))):
            return False
    return True


def _by_partition(positions: Ints, partitions: Ints, customers: Ints) -> bool:
    """Is each customer's every event on one partition, and each partition's positions increasing
    in batch order? (False: not known so.)"""
    partition_of = np.empty(int(customers.max()) + 1, np.int64)
    partition_of[customers] = partitions  # the last of each customer's
    if not bool(np.all(partition_of[customers] == partitions)):
        return False
    for partition in np.unique(partitions).tolist():
        if not bool(np.all(np.diff(positions[partitions == partition]) > 0)):
            return False
    return True


def _increments(batch: EventColumns) -> tuple[Ints, bool]:
    """Per event, the integer fields it adds (as :func:`streams.aggregation.increment`), and
    whether every window's sums surely fit in 64 bits."""
    n = len(batch)
    array = np.zeros((n, _SUMS), np.int64)
    try:
        array[:, 0] = np.fromiter(batch.cost_units, np.int64, n)
        array[:, 1] = np.fromiter(batch.counts, np.int64, n)
        if type(batch.tokens) is TokenColumns:
            array[:, 2 : 2 + len(_TOKEN_FIELDS)] = batch.tokens.array
        else:  # straight from the objects, without a list of each column first
            for column, field in enumerate(_TOKEN_FIELDS, 2):
                array[:, column] = np.fromiter(map(field, batch.tokens), np.int64, n)
        facts = batch.ledger
        outcomes = list(compress(range(n), map(eq, batch.kinds, repeat("outcome"))))
        if outcomes:  # an outcome's value where it has one, and whether it failed: a column each
            values = list(map(facts.outcome_values.__getitem__, outcomes))
            valued = list(map(is_not, values, repeat(None)))
            array[list(compress(outcomes, valued)), 7] = np.fromiter(compress(values, valued), np.int64)
            array[list(compress(outcomes, map(not_, map(facts.successes.__getitem__, outcomes)))), 8] = 1
    except OverflowError:
        return np.zeros((n, _SUMS), np.int64), False
    largest = max(int(array.max(initial=0)), -int(array.min(initial=0)))  # in Python ints: exact
    return array, largest * n <= _INT64_MAX


def _marks(current: Sequence[WindowAggregate | None]) -> Ints:
    """Each window's ``last_offset``, -1 where it is new: read in C, not a Python test a window."""
    n = len(current)
    stored = np.fromiter(map(is_not, current, repeat(None)), np.bool_, n)
    if bool(stored.all()):
        return np.fromiter(map(_LAST_OFFSET, current), np.int64, n)
    marks = np.full(n, -1, np.int64)
    if bool(stored.any()):
        marks[stored] = np.fromiter(map(_LAST_OFFSET, compress(current, stored.tolist())), np.int64)
    return marks


def _added(sums: Ints, rows: Ints, bases: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``sums`` with ``bases`` added to its ``rows``: in int64 where no sum can pass it (its bounds
    added in Python ints), else as Python ints (an object array), exact at any size."""
    if bases.dtype == np.int64 and len(sums):
        bound = max(int(sums.max()), -int(sums.min())) + max(int(bases.max()), -int(bases.min()))
        if bound <= _INT64_MAX:
            added = sums.copy()
            added[rows] += bases
            return added
    added = sums.astype(object)
    added[rows] += bases.astype(object)
    return added


def _objects(values: Sequence[Any]) -> npt.NDArray[Any]:
    """``values`` as an object array, copied in C: ``np.array`` of a list looks into each item for a
    nested sequence first, five times the copy's cost."""
    return np.fromiter(values, dtype=object, count=len(values))


def fold_plan(plan: WindowPlan, current: Sequence[WindowAggregate | None]) -> FoldResult | None:
    """The batch folded into ``current`` (each planned window's state before it, or None: new;
    read as columns where it is :class:`StoredWindows`).

    The changed windows come as columns (:class:`WindowChanges`), each field
    summed a column at a time: a stored window's field plus the batch's sum,
    quantity ``base + sum from ZERO`` as before. None where the windows cannot
    be folded whole (see the module's doc).
    """
    if not plan.exact:
        return None
    marks = current.marks() if type(current) is StoredWindows else _marks(current)
    fresh = marks < plan.first
    done = marks >= plan.last
    if not bool(np.all(fresh | done)):
        return None  # a window partly counted: decided event by event
    n = len(plan.batch)
    if bool(fresh.all()):
        folded = n
    else:
        lowest = np.minimum.reduce([marks[windows] for windows in plan.event_windows])
        folded = int(np.count_nonzero(plan.batch.positions > lowest))
    folding = np.flatnonzero(fresh)
    every = len(folding) == len(fresh)  # most batches: no window was counted before (no replay)
    chosen = folding.tolist()
    sums = plan.sums if every else plan.sums[folding]
    quantities = list(plan.quantities) if every else list(map(plan.quantities.__getitem__, chosen))
    stored = np.flatnonzero(marks[folding] >= 0)
    # Which windows the store holds already, under the partition they keep: its expiry index has them.
    indexed = np.zeros(len(folding), np.bool_)
    added: npt.NDArray[Any] | None = sums
    columns: list[list[Any]]
    if len(stored) and type(current) is StoredWindows:  # onto the records' fields, read as arrays
        base_sums, base_quantities, base_partitions = current.bases(folding[stored])
        same = base_partitions == plan.window_partitions[folding[stored]]
        indexed[stored] = current.in_store()[folding[stored]] & same
        added = _added(sums, stored, base_sums)
        quantity = _objects(quantities)
        quantity[stored] += _objects(base_quantities)
        quantities = quantity.tolist()
    elif len(stored):  # onto the windows' state: added as Python ints, exact at any size
        added, columns = None, []
        windows = map(current.__getitem__, folding[stored].tolist())
        bases = list(zip(*map(_BASE_FIELDS, windows), strict=True))
        for field_sums, base in zip([*sums.T[:2], None, *sums.T[2:]], bases, strict=True):
            column = np.array(quantities if field_sums is None else field_sums, dtype=object)
            column[stored] += np.array(base, dtype=object)
            columns.append(column.tolist())
        columns += [plan.last[folding].tolist(), plan.window_partitions[folding].tolist()]
    ints: Ints | None = None
    if added is not None and added.dtype == np.int64:  # every integer field in one array, then lists
        ints = np.empty((len(folding), _SUMS + 2), np.int64)
        ints[:, :_SUMS] = added
        ints[:, _SUMS] = plan.last[folding]
        ints[:, _SUMS + 1] = plan.window_partitions[folding]
        columns = np.ascontiguousarray(ints.T).tolist()
        columns.insert(2, quantities)
    elif added is not None:  # sums past int64, as Python ints
        columns = [*(column.tolist() for column in added.T)]
        columns.insert(2, quantities)
        columns += [plan.last[folding].tolist(), plan.window_partitions[folding].tolist()]
    changed = WindowChanges(
        None,
        list(plan.raw_keys) if every else list(map(plan.raw_keys.__getitem__, chosen)),
        columns,
        plan.sizes if every else plan.sizes[folding],
        plan.ends if every else plan.ends[folding],
        indexed,
        plan.key_columns if every else plan.key_columns.take(folding),
        ints,
    )
    return FoldResult(changed, folded, n - folded, changed.raw_keys)
