"""The objects of events decoded and priced as columns: the pydantic events and their PricedEvents.

:mod:`streams.wire_columns` checked every field a column at a time and
:mod:`streams.column_pricing` priced the events; what later stages still read
per event (spend control, a fold event by event, dead letters of refused rows)
takes these objects. They are built without checking anything again, equal to
what the per-event path builds (:mod:`streams.event_fast_path`, then
:meth:`streams.pricing.PriceCatalog.price`): the same fields, values, Decimal
forms, fields set and integer costs (tests/unit/streams/test_intake_columns.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import msgspec
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from schemas.events import EVENT_MODELS, UsageEvent
from schemas.events import _keep_amount as keep_amount
from schemas.money import ZERO, from_pico
from streams.column_pricing import PricedColumns
from streams.pricing import PricedEvent, TokenUsage, cost_of_pico
from streams.wire_columns import KINDS, WireColumns

_PICO_UNITS = 10**12
_MODELS = {name: EVENT_MODELS[name] for name in KINDS.values()}  # the kinds read as columns
# Fields pydantic converts from what was sent: amounts as text or integers become kept Decimals.
_AMOUNTS = {"compute": ("seconds",), "storage": ("seconds",), "human_review": ("minutes",)}
# BaseModel's slots, set through their descriptors, as streams.event_fast_path sets them.
_SET_DICT = BaseModel.__dict__["__dict__"].__set__
_SET_FIELDS = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__
_new = object.__new__


class _EventBuilder:
    """Events of one kind from their fields as sent, which :mod:`streams.wire_columns` checked."""

    def __init__(self, kind: str) -> None:
        self.model = _MODELS[kind]
        fields = self.model.model_fields
        # The instance's __dict__: every field in the model's order, defaults first.
        self.template = {name: kind if name == "kind" else info.default for name, info in fields.items()}
        self.factories: list[tuple[str, Callable[[], Any]]] = [
            (name, info.default_factory)  # type: ignore[misc]  # no factory takes the validated data
            for name, info in fields.items()
            if info.default_factory is not None
        ]
        self.amounts = _AMOUNTS.get(kind, ())

    def __call__(self, sent: dict[str, Any]) -> UsageEvent:
        values = {**self.template, **sent}
        for name, factory in self.factories:
            if name not in sent:
                values[name] = factory()
        values["occurred_at"] = datetime.fromisoformat(sent["occurred_at"])
        for name in self.amounts:
            values[name] = keep_amount(Decimal(sent[name]))  # plain digits or an int, checked
        event = cast(UsageEvent, _new(self.model))
        _SET_DICT(event, values)
        _SET_FIELDS(event, set(sent))
        _SET_EXTRA(event, None)
        _SET_PRIVATE(event, None)
        return event


_BUILDERS = {kind: _EventBuilder(kind) for kind in _MODELS}


def priced_events(wire: WireColumns, priced: PricedColumns) -> list[PricedEvent]:
    """Each event of ``wire`` as the per-event path prices it, in ``wire``'s order."""
    sent: list[dict[str, Any]] = msgspec.to_builtins(list(wire.structs))  # each event's fields, kind too
    made: list[Any] = [None] * len(wire)
    combos = list(map(priced.combos.__getitem__, priced.combo.tolist()))
    costs, quantities = priced.cost.tolist(), priced.quantity.tolist()
    for kind, rows in wire.kinds.items():
        build = _BUILDERS[kind]
        chosen = rows.rows.tolist()
        if kind == "llm":  # most events: their own loop
            tokens = priced.tokens[rows.rows].tolist()
            for row, usage in zip(chosen, tokens, strict=True):
                made[row] = _llm(build(sent[row]), combos[row], costs[row], usage)
            continue
        price = _PRICERS[kind]
        for row in chosen:
            made[row] = price(build(sent[row]), combos[row], costs[row], quantities[row])
    return made


def priced_event(wire: WireColumns, priced: PricedColumns, row: int) -> PricedEvent:
    """The event at ``row`` of ``wire`` alone, equal to :func:`priced_events`' at that row."""
    sent: dict[str, Any] = msgspec.to_builtins(wire.structs[row])
    kind = sent["kind"]
    event = _BUILDERS[kind](sent)
    combo = priced.combos[int(priced.combo[row])]
    at = slice(row, row + 1)  # tolist() gives Python ints of int64 and object arrays alike
    cost, quantity = priced.cost[at].tolist()[0], priced.quantity[at].tolist()[0]
    if kind == "llm":
        return _llm(event, combo, cost, priced.tokens[row].tolist())
    return _PRICERS[kind](event, combo, cost, quantity)


def _llm(event: Any, combo: Combo, pico: int, usage: list[int]) -> PricedEvent:
    _, provider, sku, model, unit, version = combo
    return PricedEvent(
        event, cost_of_pico(pico), version, sku, provider,
        Decimal(usage[0] + usage[3]), unit, TokenUsage(*usage), model, 1, pico,
    )  # fmt: skip


def value_columns(
    wire: WireColumns, priced: PricedColumns
) -> tuple[list[int | None], list[int], list[Decimal]]:
    """The columns the per-event path takes from its PricedEvents, without them: each event's
    ``cost_pico`` (None where pricing computes in Decimal), cost in pico-dollars and quantity
    (pricing's Decimal form). Tokens are pricing's own array (:class:`TokenColumns`)."""
    n = len(wire)
    units: list[int] = priced.cost.tolist()
    costs: list[int | None] = list(units)  # None where pricing computes in Decimal: set below
    # Each kind's values scattered to its rows in C (an object array), not a row at a time.
    quantities = np.full(n, ZERO, dtype=object)
    for kind, rows in wire.kinds.items():
        where = rows.rows
        if kind not in _PICO_KINDS:
            for row in where.tolist():
                costs[row] = None
        if kind in _AMOUNTS:  # the event's own amount, as the event holds it
            sent = rows.fields[_AMOUNTS[kind][0]]
            kept = (keep_amount(Decimal(value)) for value in sent)
            stored = kind == "storage"
            quantities_of = list(map(from_pico, priced.quantity[where].tolist())) if stored else list(kept)
            _scatter(quantities, where, quantities_of)
        else:
            quantities[where] = whole_decimals(priced.quantity[where] // _PICO_UNITS)
    return costs, units, quantities.tolist()


# Decimal(i) for the small counts most events have (calls, queries, an LLM call's tokens): shared,
# as a Decimal is immutable, and gathered by NumPy instead of a new Decimal an event.
_SMALL_COUNTS = 1 << 15
_WHOLE_DECIMALS = np.fromiter(map(Decimal, range(_SMALL_COUNTS)), dtype=object, count=_SMALL_COUNTS)


def whole_decimals(counts: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``Decimal(c)`` of each whole count, as an object array: from the table for counts of 0 to
    2**15 - 1 in an int64 array, each other made."""
    if counts.dtype != np.int64:  # Python ints past int64
        return np.fromiter(map(Decimal, counts.tolist()), dtype=object, count=len(counts))
    small = (counts >= 0) & (counts < _SMALL_COUNTS)
    found: npt.NDArray[Any] = _WHOLE_DECIMALS[np.where(small, counts, 0)]
    large = np.flatnonzero(~small)
    if len(large):
        found[large] = np.fromiter(map(Decimal, counts[large].tolist()), dtype=object, count=len(large))
    return found


def _scatter(column: npt.NDArray[Any], rows: npt.NDArray[np.int64], values: list[Any]) -> None:
    """``column[rows] = values``, each value an object as it is (never unpacked as a sequence)."""
    # fromiter takes each item as it is, in C; a slice assignment from a list probes every item
    # for a sequence first (eight times slower).
    column[rows] = np.fromiter(values, dtype=object, count=len(values))


def decimal_costs_of(wire: WireColumns, priced: PricedColumns) -> list[Decimal | None]:
    """Each event's cost as :func:`priced_events` makes it where pricing computes it in Decimal
    (compute, review, storage, outcome), else None (an integer cost: ``value_columns``' costs)."""
    found = np.full(len(wire), None, dtype=object)
    for kind, rows in wire.kinds.items():
        if kind == "outcome":  # free: pricing's ZERO, the same object in every row
            found[rows.rows] = ZERO
        elif kind not in _PICO_KINDS:
            _scatter(found, rows.rows, list(map(from_pico, priced.cost[rows.rows].tolist())))
    costs: list[Decimal | None] = found.tolist()
    return costs


_PICO_KINDS = frozenset({"llm", "tool", "embedding", "vector_query"})  # priced in integers


Combo = tuple[str, str, str, str, str, str]  # kind, provider, sku, model_sent, unit, price_version
Pricer = Callable[[Any, Combo, int, int], PricedEvent]


def _per_unit(event: Any, combo: Combo, pico: int, quantity: int) -> PricedEvent:
    kind, provider, sku, _, unit, version = combo
    count = quantity // _PICO_UNITS
    tokens = TokenUsage(count) if kind == "embedding" else TokenUsage()
    return PricedEvent(
        event, cost_of_pico(pico), version, sku, provider, Decimal(count), unit, tokens, cost_pico=pico
    )


def _amount(field: str) -> Pricer:
    """Compute and review: the event's own amount is the quantity; the cost kept at 12 places."""

    def price(event: Any, combo: Combo, cost: int, quantity: int) -> PricedEvent:
        _, _, sku, _, unit, version = combo
        amount = event.__dict__[field]
        return PricedEvent(event, from_pico(cost), version, sku, "", amount, unit, TokenUsage())

    return price


def _storage(event: Any, combo: Combo, cost: int, quantity: int) -> PricedEvent:
    _, _, sku, _, unit, version = combo
    return PricedEvent(event, from_pico(cost), version, sku, "", from_pico(quantity), unit, TokenUsage())


def _outcome(event: Any, combo: Combo, cost: int, quantity: int) -> PricedEvent:
    _, _, sku, _, unit, version = combo
    return PricedEvent(event, ZERO, version, sku, "", Decimal(quantity // _PICO_UNITS), unit, TokenUsage())


_PRICERS: dict[str, Pricer] = {
    "tool": _per_unit,
    "embedding": _per_unit,
    "vector_query": _per_unit,
    "compute": _amount("seconds"),
    "human_review": _amount("minutes"),
    "storage": _storage,
    "outcome": _outcome,
}
