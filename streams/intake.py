"""A batch's messages to priced events, and the columns every later stage reads.

Each event is decoded (:mod:`streams.decoding`), checked against its
message's key and priced (:mod:`streams.pricing`); whatever fails becomes a
dead letter, in the message's order. The columns of
:class:`streams.window_batch.EventColumns` are taken in the same pass, while
each event's objects are still in the cache: read again afterwards, a batch's
events cost a cache miss per event and field (:meth:`EventColumns.of`, ~2 µs
an event for 100k).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from itertools import repeat
from typing import Any, Protocol
from weakref import WeakKeyDictionary

import numpy as np
import numpy.typing as npt

from schemas.dead_letters import DeadLetter, DeadLetterCode
from schemas.events import Correction, UsageEvent, dump_event
from streams.aggregation import Counted, position
from streams.column_pricing import PricedColumns, RateBook, price_columns
from streams.decoding import Decoded, TimeBounds, decode_events
from streams.pricing import PriceCatalog, PricedEvent, TokenUsage, UnpriceableEventError
from streams.window_batch import (
    Coded,
    CountedBatch,
    EventColumns,
    LedgerFacts,
    TokenColumns,
    cost_units,
    decimal_costs,
)
from streams.wire_columns import KINDS, WireColumns, decode_batch, select
from streams.wire_events import decimal_costs_of, priced_event, priced_events, value_columns

Ints = npt.NDArray[np.int64]
_KIND_NAMES = list(KINDS.values())  # by the numbers of streams.wire_columns' kind column
_LISTS = (
    "customers", "event_ids", "agents", "kinds", "costs", "counts", "quantities", "tokens", "categories",
)  # fmt: skip
_EXACT_PICO = 10**28  # pricing's integer costs stop here (streams.pricing._EXACT_PICO)
# Each catalog's list prices indexed for columns, rebuilt when the catalog changes.
_BOOKS: WeakKeyDictionary[PriceCatalog, tuple[int, RateBook]] = WeakKeyDictionary()


class Message(Protocol):
    """A Kafka message as the processor holds it (:class:`streams.processor.RawMessage`)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def timestamp_ms(self) -> int | None: ...


def decode_and_price(
    messages: Sequence[Message], catalog: PriceCatalog, bounds: TimeBounds | None, now: datetime
) -> tuple[CountedBatch, list[DeadLetter]]:
    """The counted events of ``messages`` with their columns, and the dead letters (dated ``now``).

    Messages :mod:`streams.wire_columns` admits whole are read and priced a column at a time;
    the others take the per-event path, which writes every dead letter. Either way the
    events come out in message order, as one path would give them."""
    fast = _columnar(messages, catalog, bounds)
    if fast is None:
        counted, dead, _ = _per_event(messages, catalog, bounds, now)
        return counted, dead
    columns, sources, slow = fast
    if not slow:
        return _handed(columns), []
    counted, dead, read = _per_event([messages[i] for i in slow], catalog, bounds, now)
    assert counted.columns is not None  # the per-event path always takes them
    slow_sources = np.array(slow, np.int64)[read] if len(read) else read
    return _handed(_merged(columns, sources, counted.columns, slow_sources)), dead


def _columnar(
    messages: Sequence[Message], catalog: PriceCatalog, bounds: TimeBounds | None
) -> tuple[EventColumns, Ints, list[int]] | None:
    """The columns of the messages read and priced as columns, each row's message, and the
    messages left to the per-event path; None where no message is admitted."""
    values = [m.value or b"" for m in messages]
    keys = [m.key for m in messages]
    around = bounds.micros_around([m.timestamp_ms for m in messages]) if bounds is not None else None
    wire, slow = decode_batch(values, keys, around)
    if not len(wire):
        return None
    book = _book(catalog)
    priced = price_columns(book, wire)
    declined = priced.declined
    if priced.cost.dtype == object:  # past pricing's exact integer costs: its Decimal path
        declined = declined | (priced.cost >= _EXACT_PICO).astype(np.bool_)
    if bool(declined.any()):
        refused = np.unique(wire.message[declined])
        wire = select(wire, ~np.isin(wire.message, refused))
        slow = sorted({*slow, *refused.tolist()})
        if not len(wire):
            return None
        priced = price_columns(book, wire)
    partitions = np.array([m.partition for m in messages], np.int64)[wire.message]
    bases = np.array([position(m.offset, 0) for m in messages], np.int64)[wire.message]
    positions = bases | wire.index
    n = len(wire)

    def made() -> list[Counted]:  # only for what reads the events' objects
        return list(zip(partitions.tolist(), positions.tolist(), priced_events(wire, priced), strict=True))

    def one(row: int) -> Counted:  # an alert's or a task's event, the others left unmade
        return int(partitions[row]), int(positions[row]), priced_event(wire, priced, row)

    kinds = list(map(_KIND_NAMES.__getitem__, wire.kind.tolist()))
    costs, units, quantities = value_columns(wire, priced)
    # An LLM call's tokens, an embedding's as its input, none for the other kinds: pricing's array.
    tokens = TokenColumns(priced.tokens)
    columns = EventColumns(
        CountedBatch(make=made, size=n, row=one), partitions, positions, wire.occurred_us / 1e6,
        wire.customers, wire.event_ids, wire.agents, kinds, costs, [1] * n, quantities, tokens,
        kinds.copy(), _facts(wire, priced, priced.quantity.tolist()), units, decimal_costs_of(wire, priced),
        utc_times=True,  # parse_utc admitted only times in UTC
    )  # fmt: skip
    return columns, wire.message, slow


def _outcome_types(priced: PricedColumns, rows: Ints, n: int) -> Sequence[str]:
    """Each row's outcome type: an outcome's is its price's SKU, '' for other kinds. As codes into
    a type a price combination (the sink writes the column from them) where no combination of an
    outcome is also another kind's, else a list."""
    combo = priced.combo
    outcome_combos = np.zeros(len(priced.combos), np.bool_)
    outcome_combos[combo[rows]] = True
    is_outcome = np.zeros(n, np.bool_)
    is_outcome[rows] = True
    if bool(np.array_equal(outcome_combos[combo], is_outcome)):
        # Each distinct type once ('' first), a combination's code renumbered to its type's: every
        # other kind's row is the same code, as it is the same value.
        types = {"": 0}
        type_of = [
            types.setdefault(c[2] if outcome else "", len(types))
            for c, outcome in zip(priced.combos, outcome_combos.tolist(), strict=True)
        ]
        return Coded(np.array(type_of, np.int64)[combo], list(types))
    listed = [""] * n
    for row in rows.tolist():
        listed[row] = priced.combos[int(combo[row])][2]
    return listed


def _facts(wire: WireColumns, priced: PricedColumns, quantity_units: list[int]) -> LedgerFacts:
    """The ledger's facts of admitted events, from their columns: no tier, value or correction."""
    n = len(wire)
    # Each price column a value a combination, looked up by each row's combination where read.
    _, providers, skus, models, units, versions = (
        Coded(priced.combo, values) for values in zip(*priced.combos, strict=True)
    )
    outcome_types: Sequence[str] = [""] * n
    successes: list[bool] = priced.success.tolist()  # True but where an outcome failed
    if "outcome" in wire.kinds:
        outcome_types = _outcome_types(priced, wire.kinds["outcome"].rows, n)
    ids = wire.optional_ids
    facts = LedgerFacts(
        ids["user_id"], ids["task_id"], ids["request_id"],
        wire.attributes if wire.attributes is not None else [{}] * n,  # one empty dict, only read
        providers, skus, models, units, versions,
        [False] * n, [""] * n, outcome_types, [None] * n, successes, [""] * n, [""] * n,
    )  # fmt: skip
    # A combination's kind is its events' (the kinds read here have no other category).
    facts.quantity_units, facts.price_codes, facts.price_combos = quantity_units, priced.combo, priced.combos
    return facts


def _merged(fast: EventColumns, fast_sources: Ints, slow: EventColumns, slow_sources: Ints) -> EventColumns:
    """Both paths' rows in message order (``*_sources``: each row's message; each path's rows
    are in message order already)."""
    order = np.argsort(np.concatenate((fast_sources, slow_sources)), kind="stable")
    picks = order.tolist()

    def joined(first: Sequence[Any], second: Sequence[Any]) -> list[Any]:
        both = [*first, *second]
        return [both[i] for i in picks]

    def arrays(first: npt.NDArray[Any], second: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return np.concatenate((first, second))[order]

    facts = LedgerFacts(*(joined(a, b) for a, b in zip(fast.ledger, slow.ledger, strict=True)))
    split = len(fast)

    def one(row: int) -> Counted:  # made alone from the path that counted it
        at: int = picks[row]
        return fast.counted[at] if at < split else slow.counted[at - split]

    counted = CountedBatch(make=lambda: joined(fast.counted, slow.counted), size=len(picks), row=one)
    customers, event_ids, agents, kinds, costs, counts, quantities, tokens, categories = (
        joined(getattr(fast, name), getattr(slow, name)) for name in _LISTS
    )
    return EventColumns(
        counted,
        arrays(fast.partitions, slow.partitions),
        arrays(fast.positions, slow.positions),
        arrays(fast.seconds, slow.seconds),
        customers, event_ids, agents, kinds, costs, counts, quantities, tokens, categories,
        facts, joined(fast.cost_units, slow.cost_units), joined(fast.decimal_costs, slow.decimal_costs),
    )  # fmt: skip


def _book(catalog: PriceCatalog) -> RateBook:
    found = _BOOKS.get(catalog)
    if found is None or found[0] != catalog.revision:
        found = _BOOKS[catalog] = (catalog.revision, RateBook(catalog))
    return found[1]


def _handed(columns: EventColumns) -> CountedBatch:
    counted = columns.counted
    assert type(counted) is CountedBatch
    counted.columns = columns
    return counted


def _per_event(
    messages: Sequence[Message], catalog: PriceCatalog, bounds: TimeBounds | None, now: datetime
) -> tuple[CountedBatch, list[DeadLetter], Ints]:
    """The per-event path: each event decoded, checked against its key and priced alone; and
    each counted event's message, an index into ``messages``."""
    counted = CountedBatch()
    dead: list[DeadLetter] = []
    price = catalog.price
    count = counted.append
    partitions: list[int] = []
    sources: list[int] = []
    positions: list[int] = []
    customers: list[str] = []
    event_ids: list[str] = []
    agents: list[str] = []
    kinds: list[str] = []
    times: list[datetime] = []
    costs: list[int | None] = []
    quantities: list[Decimal] = []
    tokens: list[TokenUsage] = []
    # Corrections, whose event count (none) and category (the corrected kind) are not the
    # 1 and the kind of every other event; only the strict path reads them.
    corrections: list[tuple[int, PricedEvent]] = []
    for number, msg in enumerate(messages):
        events, decoded = decode_events(msg.value or b"", msg.timestamp_ms, bounds)
        strictly = not events
        # The common case without a Decoded per event; else each one, its error in its place.
        items: Iterable[tuple[int, UsageEvent | None, tuple[DeadLetterCode, str] | None, bytes]]
        items = decoded if strictly else zip(range(len(events)), events, repeat(None), repeat(b""))
        partition, base, key = msg.partition, position(msg.offset, 0), msg.key
        keyed = ""  # a customer_id found to be the message's key: its other events match it
        before = len(counted)
        for item in items:
            index, event, error, _ = item
            if event is None:
                assert error is not None  # a Decoded without its event has its error
                code, reason = error
                dead.append(_dead(msg, Decoded(*item), code, reason, now))
                continue
            fields = event.__dict__  # a subscript costs less than a pydantic model's attribute
            customer = fields["customer_id"]
            if customer != keyed:
                if key != customer.encode():
                    # Per-window offset marks need all of a customer's events on one partition.
                    reason = (
                        f"message key {key!r} is not the event's customer_id "
                        f"{customer!r}; key usage messages by customer_id"
                    )
                    dead.append(_dead(msg, Decoded(*item), DeadLetterCode.WRONG_KEY, reason, now))
                    continue
                keyed = customer
            try:
                priced = price(event)
            except UnpriceableEventError as exc:
                dead.append(_dead(msg, Decoded(*item), exc.code, exc.reason, now))
                continue
            pos = base | index
            count((partition, pos, priced))
            positions.append(pos)
            event_ids.append(fields["event_id"])
            agents.append(fields["agent_id"])
            kinds.append(fields["kind"])
            times.append(fields["occurred_at"])
            costs.append(priced.cost_pico)
            quantities.append(priced.quantity)
            tokens.append(priced.tokens)
            if strictly and type(event) is Correction:
                corrections.append((len(kinds) - 1, priced))
        # Every event counted from a message is on its partition and of its key's customer.
        added = len(counted) - before
        if added == 1:  # one event a message: the common case of the strict path
            partitions.append(partition)
            customers.append(keyed)
            sources.append(number)
        elif added:
            partitions += repeat(partition, added)
            customers += repeat(keyed, added)
            sources += repeat(number, added)
    n = len(counted)
    made = [priced for _, _, priced in counted]
    counts = [1] * n
    categories = kinds.copy()
    for row, priced in corrections:
        counts[row], categories[row] = priced.events, priced.category
    counted.columns = EventColumns(
        counted,
        np.fromiter(partitions, np.int64, n),
        np.fromiter(positions, np.int64, n),
        np.fromiter(map(datetime.timestamp, times), np.float64, n),
        customers, event_ids, agents, kinds, costs, counts, quantities, tokens, categories,
        LedgerFacts.of(made), cost_units(costs, made), decimal_costs(costs, made),
    )  # fmt: skip
    return counted, dead, np.fromiter(sources, np.int64, n)


def _dead(msg: Message, item: Decoded, code: DeadLetterCode, reason: str, now: datetime) -> DeadLetter:
    """The rejected event alone, so replaying it cannot repeat its neighbours."""
    value = item.raw or (dump_event(item.event) if item.event is not None else msg.value)
    return DeadLetter(code, reason, msg.topic, msg.partition, msg.offset, msg.key, value, now, item.index)
