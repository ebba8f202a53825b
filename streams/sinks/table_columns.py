"""A batch's ledger and window rows as columns, in the forms :mod:`streams.sinks.native_block` writes.

The same values as :func:`streams.sinks.clickhouse_sink.ledger_row` and
``window_row`` (the tests hold them equal), taken a column at a time:
``attrgetter`` and ``zip`` move every field in C, and only what differs by
event kind (an LLM call's batch and tier, an outcome's type and value, a
correction's links) is looked at event by event. Money comes out as ints of
the column's units (1e-12 USD), times as aware datetimes or epoch seconds.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from itertools import compress, count, repeat
from operator import attrgetter, is_, itemgetter, mul
from typing import Any

import numpy as np

from schemas.events import MEDIA_TOKENS
from schemas.money import PICO_DIGITS
from streams.aggregation import (
    AGGREGATE_COLUMNS,
    AGGREGATE_FIELDS,
    PICO_COLUMNS,
    Counted,
    WindowAggregate,
    WindowKey,
    split_position,
)
from streams.column_groups import Numbering
from streams.native_extension import native_extension
from streams.pricing import PricedEvent
from streams.sinks import ledger_stored, native_block
from streams.window_batch import Coded, EventColumns, TokenColumns
from streams.window_changes import WindowRows

# Each column a sequence or a NumPy array of its values.
Columns = dict[str, Any]

# Each column's type as ClickHouse describes it after the migrations (sql/ddl, 015, 019, 023, 025): the
# sink writes a table's block itself only while the server describes exactly these. A price's columns,
# the quantity and the cost are written as the EPHEMERAL "_sent" columns 025 stores them from.
LEDGER_TYPES = {
    "event_id_sent": "String",
    "occurred_at": "DateTime64(6, 'UTC')",
    "customer_id": "LowCardinality(String)",
    "agent_id": "LowCardinality(String)",
    "user_id": "LowCardinality(String)",
    "task_id": "String",
    "request_id": "String",
    "kind_sent": "LowCardinality(String)",
    "provider_sent": "LowCardinality(String)",
    "sku_sent": "LowCardinality(String)",
    "model_sent": "LowCardinality(String)",
    "unit_sent": "LowCardinality(String)",
    "quantity_sent": "Decimal(38, 12)",
    "input_tokens": "UInt64",
    "cached_input_tokens": "UInt64",
    "cache_write_tokens": "UInt64",
    "output_tokens": "UInt64",
    "reasoning_tokens": "UInt64",
    "batch": "Bool",
    "cost_sent": "Decimal(38, 12)",
    "currency": "LowCardinality(String)",
    "price_version_sent": "LowCardinality(String)",
    "outcome_type": "LowCardinality(String)",
    "outcome_value": "Nullable(Decimal(38, 12))",
    "success": "Bool",
    "attributes": "Map(String, String)",
    "source_partition": "UInt16",
    "source_offset": "UInt64",
    "source_index": "UInt16",
    "ingested_at_sent": "DateTime64(3, 'UTC')",
    "service_tier": "LowCardinality(String)",
    "corrects": "String",
    "reprice_run": "LowCardinality(String)",
    **dict.fromkeys(MEDIA_TOKENS, "UInt64"),
}

# Ledger columns that follow from the price an event was priced by: a few combinations a batch,
# written together (streams.sinks.native_block.low_cardinality_group).
LOW_CARDINALITY_GROUP = (
    "kind_sent",
    "provider_sent",
    "sku_sent",
    "model_sent",
    "unit_sent",
    "price_version_sent",
)
assert all(LEDGER_TYPES[name] == "LowCardinality(String)" for name in LOW_CARDINALITY_GROUP)

# The EPHEMERAL columns the ledger's DEFAULTs read, each with the stored columns the sink writes in its
# place when it derives them (streams.sinks.ledger_stored); the price's other names go into price_key.
_STORED_IN_PLACE_OF_SENT: dict[str, dict[str, str]] = {
    "event_id_sent": {"event_uuid_high": "Int64", "event_uuid_low": "UInt64", "event_id_other": "String"},
    "kind_sent": {"price_key": "LowCardinality(String)"},
    "provider_sent": {},
    "sku_sent": {},
    "unit_sent": {},
    "quantity_sent": {"quantity_rest": "Decimal(38, 12)"},
    "cost_sent": {"cost_pico": "Int64", "cost_over": "Decimal(38, 12)"},
    "price_version_sent": {},
    "ingested_at_sent": {"ingested_lag_ms": "Int64"},
}
# Each column's type as the server describes the stored columns (025's ledger): what the sink writes
# while the server describes exactly these, in place of LEDGER_TYPES.
LEDGER_STORED_TYPES = {
    stored: kind
    for name, sent_kind in LEDGER_TYPES.items()
    for stored, kind in _STORED_IN_PLACE_OF_SENT.get(name, {name: sent_kind}).items()
}
# The stored columns that follow from a row's price combination, written together (price_group).
STORED_PRICE_GROUP = ("price_key", "model_sent")
assert all(LEDGER_STORED_TYPES[name] == "LowCardinality(String)" for name in STORED_PRICE_GROUP)

# cost_windows' (002), derived from the window model as the sink's columns are.
WINDOW_TYPES = {
    "customer_id": "LowCardinality(String)",
    "agent_id": "LowCardinality(String)",
    "category": "LowCardinality(String)",
    "window_size": "UInt32",
    "window_start": "DateTime('UTC')",
    **{
        column: "Decimal(38, 12)" if kind is Decimal or column in PICO_COLUMNS else "UInt64"
        for column, kind in zip(AGGREGATE_COLUMNS, AGGREGATE_FIELDS.values(), strict=True)
    },
    "source_partition": "UInt16",
    "updated_at": "DateTime64(3, 'UTC')",
}
# The fields in AGGREGATE_COLUMNS order, read in C (WindowAggregate.values is Python).
_WINDOW_FIELDS = attrgetter(*AGGREGATE_FIELDS)
# The windows' Decimal fields (pico-dollar fields are ints already).
_WINDOW_DECIMALS = [
    c for c, k in zip(AGGREGATE_COLUMNS, AGGREGATE_FIELDS.values(), strict=True) if k is Decimal
]

_TOKEN_COLUMNS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)
# A priced event's fields the ledger takes as they are, then those its columns are made from.
_PRICED_AS_THEY_ARE = ("provider", "sku", "model_sent", "unit", "price_version")
_PRICED_COLUMNS = ("provider_sent", "sku_sent", "model_sent", "unit_sent", "price_version_sent")  # written as
_PRICED_OWN = attrgetter(*_PRICED_AS_THEY_ARE, "event")  # what the processor's columns lack
# The Decimal cost is read only where pricing has no pico-dollar int (_costs): rarely.
_PRICED = attrgetter(*_PRICED_AS_THEY_ARE, "event", "tokens", "quantity", "cost_pico")
_PRICED_EVENT = itemgetter(2)
# An event's, read from its fields' dict (a pydantic model's): a third cheaper than attribute lookups.
_OPTIONAL_IDS = ("user_id", "task_id", "request_id")
_EVENT_OWN = itemgetter("attributes", *_OPTIONAL_IDS)
_EVENT = itemgetter(
    "customer_id", "event_id", "agent_id", "attributes", *_OPTIONAL_IDS, "occurred_at", "kind"
)
_TIER_FIELDS = itemgetter("batch", "service_tier")  # an LLM call's
_FIELDS_DICT = attrgetter("__dict__")  # a pydantic model's fields, by name
# TokenUsage's fields, in _TOKEN_COLUMNS then MEDIA_TOKENS order.
_TOKENS = attrgetter(*(name.removesuffix("_tokens") for name in (*_TOKEN_COLUMNS, *MEDIA_TOKENS)))
_ALL = slice(None)
_INDEX_MASK = (1 << 16) - 1  # streams.aggregation.position's place-in-message bits

_WIDE = decimal.Context(prec=50)  # shifting a Decimal(38, 12)'s point never rounds here
# Times 10**12 is scaleb(12) to the same value, rounded alike, at two thirds of its cost.
_PICO_FACTOR = Decimal(10**PICO_DIGITS)
_SAMPLE = 64  # amounts looked at to guess whether a block's repeat
# The extension's decimal_units, unless COSTLINE_NATIVE_BLOCK=python or the build lacks it.
_native = native_extension("COSTLINE_NATIVE_BLOCK", "decimal_units")


def units(amounts: Sequence[Decimal]) -> list[int]:
    """Amounts as ints of 1e-12, truncated toward zero past the 12th place as the library's writer does.

    Each distinct amount converts once: a block's prices and small counts repeat, and a
    lookup is a fifth of a conversion. (No cache across calls: sums and token counts rarely
    come back, and a benchmark writing its batches again would find them all.)"""
    # Mostly different: converting them all is cheaper. A sample tells before every amount is hashed.
    if len(set(amounts[:_SAMPLE])) > _SAMPLE // 2:
        return _converted(amounts)
    distinct: dict[Decimal, int] = dict.fromkeys(amounts, 0)
    if len(distinct) > len(amounts) // 2:
        return _converted(amounts)
    distinct.update(zip(distinct, _converted(list(distinct)), strict=True))
    return list(map(distinct.__getitem__, amounts))


def _converted(amounts: Sequence[Decimal]) -> list[int]:
    # Natively where built, from each amount's str(): a third of the reference's multiply and int().
    if _native is not None and type(amounts) is list:
        found: list[int] | None = _native.decimal_units(amounts, PICO_DIGITS)
        if found is not None:
            return found
    return _converted_here(amounts)


def _converted_here(amounts: Sequence[Decimal]) -> list[int]:
    """:func:`_converted` in Python (the reference): ``int(amount * 10**12)`` of each amount."""
    # The operator under the wide context is _WIDE.multiply, without its call's own checks.
    with decimal.localcontext(_WIDE):
        return list(map(int, map(mul, amounts, repeat(_PICO_FACTOR))))


def ledger_columns(
    counted: Sequence[Counted], now: datetime, batch: EventColumns | None = None, where: slice = _ALL
) -> Columns:
    """The ledger rows of ``counted`` (as ``ledger_row`` makes them), column by column.

    ``batch``: where given, the columns the processor read from the same events
    (``batch``'s rows ``where`` are ``counted``), taken as they are: an event's
    objects are read once a batch, not again here when they are cold in the cache.
    ``occurred_at`` comes out as int64 microseconds since the epoch."""
    rows = len(counted)
    partitions: Sequence[int]
    positions: Sequence[int] | np.ndarray[Any, Any]
    ids: Sequence[Sequence[str]]
    kind: Sequence[str]
    tokens: Sequence[Any]
    quantity: Sequence[Decimal]
    cost_pico: Sequence[int | None]
    if batch is not None:
        return _from_columns(counted, now, batch, where)
    partitions, positions, priced = zip(*counted, strict=True)
    # Each field a column in C: attrgetter/itemgetter a row, zip to transpose.
    *as_they_are, events, tokens, quantity, cost_pico = zip(*map(_PRICED, priced), strict=True)
    fields = list(map(_FIELDS_DICT, events))
    *ids, attributes, user, task, request, occurred, kind = zip(*map(_EVENT, fields), strict=True)
    occurred_at = native_block.micros(occurred)
    columns: Columns = dict(zip(_PRICED_COLUMNS, as_they_are, strict=True))
    columns.update(zip(("customer_id", "event_id_sent", "agent_id"), ids, strict=True))
    columns.update(
        zip((*_TOKEN_COLUMNS, *MEDIA_TOKENS), zip(*map(_TOKENS, tokens), strict=True), strict=True)
    )
    # Optional ids are None or non-empty (schemas.events.Identifier): '' stands for None.
    for name, values in zip(_OPTIONAL_IDS, (user, task, request), strict=True):
        if all(values):
            columns[name] = values
        else:  # most often none at all: a fill, not a row at a time in Python
            columns[name] = [""] * rows if not any(values) else [i or "" for i in values]
    columns.update(
        occurred_at=occurred_at,
        attributes=attributes,
        quantity_sent=units(quantity),
        cost_sent=_costs(priced, cost_pico),
        currency=["USD"] * rows,
        source_partition=partitions,
        ingested_at_sent=[now] * rows,
        **_kinds(events, fields, list(kind)),
        **_positions(positions),
    )
    return columns


def _from_columns(counted: Sequence[Counted], now: datetime, batch: EventColumns, where: slice) -> Columns:
    """:func:`ledger_columns` from the batch's columns alone: no event's objects are visited
    (but a time's past 2038)."""
    rows = len(counted)
    facts = batch.ledger.cut(where)
    columns = LedgerBlock(
        zip(_PRICED_COLUMNS, (facts.providers, facts.skus, facts.models_sent, facts.units,
                              facts.price_versions), strict=True)
    )  # fmt: skip
    # As codes where the windows' plan numbered them (clickhouse_sink.written_column writes those).
    customers = batch.customers if batch.customer_codes is None else batch.customer_codes
    agents = batch.agents if batch.agent_codes is None else batch.agent_codes
    columns.update(customer_id=customers[where], event_id_sent=batch.event_ids[where])
    columns.update(agent_id=agents[where])
    tokens = batch.tokens[where]
    if type(tokens) is TokenColumns:  # pricing's array: a column each, no media tokens
        columns.update(zip(_TOKEN_COLUMNS, tokens.array.T, strict=True))
        columns.update(dict.fromkeys(MEDIA_TOKENS, [0] * rows))
    else:
        columns.update(
            zip((*_TOKEN_COLUMNS, *MEDIA_TOKENS), zip(*map(_TOKENS, tokens), strict=True), strict=True)
        )
    for name, values in zip(_OPTIONAL_IDS, (facts.user_ids, facts.task_ids, facts.request_ids), strict=True):
        columns[name] = values
    columns.update(
        occurred_at=native_block.micros(_Times(counted), batch.seconds[where]),
        attributes=facts.attributes,
        quantity_sent=units(batch.quantities[where])
        if facts.quantity_units is None
        else facts.quantity_units,
        cost_sent=list(batch.cost_units[where]),
        currency=["USD"] * rows,
        source_partition=batch.partitions[where].tolist(),
        ingested_at_sent=[now] * rows,
        kind_sent=list(batch.categories[where]),  # a correction stands under the corrected event's kind
        batch=facts.batched,
        service_tier=facts.service_tiers,
        outcome_type=facts.outcome_types,
        outcome_value=facts.outcome_values,
        success=facts.successes,
        corrects=facts.corrects,
        reprice_run=facts.reprice_runs,
        **_positions(batch.positions[where]),
    )
    if facts.price_codes is not None:
        columns.price_codes, columns.price_combos = facts.price_codes, facts.price_combos
    return columns


class LedgerBlock(dict[str, Any]):
    """A block's ledger columns, and where pricing numbered them, each row's price combination
    (:class:`streams.window_batch.LedgerFacts`' ``price_codes``): the LOW_CARDINALITY_GROUP columns
    are then written from the combinations (:func:`native_block.low_cardinality_coded`), which the
    columns hold row by row as well."""

    __slots__ = ("price_codes", "price_combos")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.price_codes: np.ndarray[Any, np.dtype[np.int64]] | None = None
        self.price_combos: Sequence[tuple[str, ...]] = ()


# A batch's few price combinations, whose dictionaries every block of the batch writes: one group
# at a time a layout, the last batch's (a batch's blocks are written one after the other), found
# again by its combinations (equal: the same tuples, compared by identity first).
_FEW_COMBINATIONS = 64
_last_group: dict[tuple[str, ...], tuple[list[tuple[str, ...]], native_block.CodedGroup]] = {}


def price_group(columns: Columns, names: tuple[str, ...] = LOW_CARDINALITY_GROUP) -> list[bytes]:
    """The price's columns of a ledger block, each in Native form: ``names`` either
    LOW_CARDINALITY_GROUP (as sent) or :data:`STORED_PRICE_GROUP` (price_key as 025's
    DEFAULT joins it, and model_sent)."""
    codes = getattr(columns, "price_codes", None)
    if codes is None:
        sent = [columns[name] for name in LOW_CARDINALITY_GROUP]
        if names == LOW_CARDINALITY_GROUP:
            return native_block.low_cardinality_group(sent)
        # The rows' combinations numbered here, as low_cardinality_group does.
        combinations = Numbering()
        which = np.fromiter(map(combinations.__getitem__, zip(*sent, strict=True)), np.int64, len(sent[0]))
        return native_block.low_cardinality_coded(which, _as_stored(list(combinations)))
    combos = columns.price_combos  # type: ignore[attr-defined]
    if len(combos) > _FEW_COMBINATIONS:  # each block's dictionaries of the combinations it uses
        stored = combos if names == LOW_CARDINALITY_GROUP else _as_stored(combos)
        return native_block.low_cardinality_coded(codes, stored)
    last = _last_group.get(names)
    if last is None or last[0] != combos:
        written = combos if names == LOW_CARDINALITY_GROUP else _as_stored(combos)
        last = _last_group[names] = (list(combos), native_block.CodedGroup(written))
    return last[1].written(codes)


def _as_stored(combinations: Sequence[Sequence[str]]) -> list[tuple[str, str]]:
    """Combinations of LOW_CARDINALITY_GROUP's columns as STORED_PRICE_GROUP's."""
    return [
        (ledger_stored.price_key(kind, provider, sku, unit, version), model)
        for kind, provider, sku, model, unit, version in combinations
    ]


class _Times(Sequence[datetime]):
    """The events' times, each read only if asked for (times past 2038, rare)."""

    def __init__(self, counted: Sequence[Counted]) -> None:
        self.counted = counted

    def __len__(self) -> int:
        return len(self.counted)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [item[2].event.occurred_at for item in self.counted[index]]
        return self.counted[index][2].event.occurred_at


class _Lazy(Sequence[Any]):
    """One field of each of ``fields``, read only if asked for (times past 2038, rare)."""

    def __init__(self, fields: Sequence[dict[str, Any]], name: str) -> None:
        self.fields, self.name = fields, name

    def __len__(self) -> int:
        return len(self.fields)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [f[self.name] for f in self.fields[index]]
        return self.fields[index][self.name]


def _costs(priced: Sequence[PricedEvent], cost_pico: Sequence[int | None]) -> list[int]:
    """Pricing's own pico-dollar ints where it has them, else the Decimal's units."""
    costs = list(cost_pico)
    if None in costs:  # only those rows are looked at again, found in C
        missing = list(compress(count(), map(is_, costs, repeat(None))))
        costs_of_missing = units([priced[row].cost for row in missing])
        for row, unit in zip(missing, costs_of_missing, strict=True):
            costs[row] = unit
    return costs  # type: ignore[return-value]  # no None left


def _positions(positions: Sequence[int] | np.ndarray[Any, Any]) -> Columns:
    try:
        both = np.array(positions, dtype=np.uint64)
    except OverflowError:  # past 2**64: Python ints, which the UInt64 writer refuses as the library's would
        offsets, indexes = zip(*map(split_position, positions), strict=True)
        return {"source_offset": offsets, "source_index": indexes}
    return {"source_offset": both >> np.uint64(16), "source_index": both & np.uint64(_INDEX_MASK)}


class _RowsByKind:
    """The rows of each kind of event, from one numbering of the rows' kinds in C."""

    def __init__(self, kind: Sequence[str]) -> None:
        self.numbers = Numbering()
        self.codes = np.fromiter(map(self.numbers.__getitem__, kind), np.int64, len(kind))

    def __contains__(self, which: str) -> bool:
        return which in self.numbers

    def __call__(self, which: str) -> list[int]:
        rows: list[int] = np.flatnonzero(self.codes == self.numbers[which]).tolist()
        return rows


def _kinds(events: Sequence[Any], fields: Sequence[dict[str, Any]], kind: list[str]) -> Columns:
    """The columns that only some kinds of event fill; ``kind`` becomes each row's category.

    Only the rows of those kinds are looked at, and of LLM calls only those
    that ran in a batch or a service tier (``fields``: each event's, where
    other kinds have no batch or tier)."""
    rows, of_kind = len(events), _RowsByKind(kind)
    batch, tier, outcome_type = [False] * rows, [""] * rows, [""] * rows
    value: list[int | None] = [None] * rows  # in units of 1e-12
    success, corrects, run = [True] * rows, [""] * rows, [""] * rows
    if "llm" in of_kind:
        llm = of_kind("llm")
        # Only an LLM call's fields hold these: one read of its dict, not a get of every event's.
        flags = list(map(_TIER_FIELDS, map(fields.__getitem__, llm)))
        if any(map(any, flags)):
            for row, (in_batch, _) in compress(zip(llm, flags, strict=True), map(any, flags)):
                batch[row], tier[row] = bool(in_batch), events[row].tier or ""
    if "outcome" in of_kind:
        outcomes = of_kind("outcome")
        for row in outcomes:
            event = events[row]
            outcome_type[row], success[row] = event.outcome_type, event.success
        valued = [row for row in outcomes if events[row].value is not None]
        for row, unit in zip(valued, units([events[row].value for row in valued]), strict=True):
            value[row] = unit
    for row in of_kind("correction") if "correction" in of_kind else ():
        event = events[row]  # stands under the corrected event's kind, linked to it
        kind[row], corrects[row], run[row] = event.corrected_kind, event.corrects, event.run_id
    return {
        "kind_sent": kind,
        "batch": batch,
        "service_tier": tier,
        "outcome_type": outcome_type,
        "outcome_value": value,
        "success": success,
        "corrects": corrects,
        "reprice_run": run,
    }


def window_change_columns(windows: WindowRows, now: datetime) -> Columns:
    """:func:`window_columns` of windows held as columns, taken as they are: no aggregate made."""
    coded = windows.key_columns()
    keys: list[Any]
    if coded is not None:  # names as codes, written from the codes (clickhouse_sink.written_column)
        customers, agents, categories = coded.names
        keys = [
            Coded(coded.customers, customers), Coded(coded.agents, agents),
            Coded(coded.categories, categories), coded.sizes.tolist(), coded.starts.tolist(),
        ]  # fmt: skip
    else:
        keys = windows.key_texts()  # window_start stays epoch seconds: DateTime's own ticks
    columns = dict(zip(WINDOW_TYPES, [*keys, *windows.columns(), [now] * len(windows)], strict=True))
    for name in _WINDOW_DECIMALS:
        columns[name] = units(columns[name])
    return columns


def window_columns(windows: Sequence[tuple[WindowKey, WindowAggregate]], now: datetime) -> Columns:
    """``windows`` as ``cost_windows`` columns (as ``window_row`` makes them, start in epoch seconds)."""
    keys, aggregates = zip(*windows, strict=True)
    starts = zip(*keys, strict=True)  # window_start stays epoch seconds: DateTime's own ticks
    fields = zip(*map(_WINDOW_FIELDS, aggregates), strict=True)
    columns = dict(zip(WINDOW_TYPES, [*starts, *fields, [now] * len(windows)], strict=True))
    for name in _WINDOW_DECIMALS:
        columns[name] = units(columns[name])
    return columns
