"""Tumbling event-time windows, folded idempotently. Pure: no I/O.

Each window aggregate remembers the highest source position (message offset,
then place in the message) folded into it. All events of a customer share
one partition (the source topic is keyed by ``customer_id``) and arrive there
in order, so an event at or below that mark has already been counted: a batch
replayed after a crash re-folds to the very same state instead of double
counting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any, NamedTuple, get_type_hints

from schemas.money import ZERO, to_pico
from streams.pricing import PricedEvent

ALL_AGENTS = "*"  # agent_id of the per-customer rollup
_SEP = "\x1f"  # unit separator: identifiers may not contain control characters
_INDEX_BITS = 16


def position(offset: int, index: int) -> int:
    """An event's place in its partition: message offset, then place in the message."""
    return (offset << _INDEX_BITS) | index


def split_position(pos: int) -> tuple[int, int]:
    return pos >> _INDEX_BITS, pos & ((1 << _INDEX_BITS) - 1)


Counted = tuple[int, int, PricedEvent]  # (partition, position, priced event)


class WindowKey(NamedTuple):
    customer_id: str
    agent_id: str
    category: str
    size: int  # seconds
    start: int  # epoch seconds, UTC

    @property
    def end(self) -> int:
        return self.start + self.size

    def encode(self) -> bytes:
        # Plain joins, not orjson: orjson's over-allocated output buffers,
        # kept by the millions in worker state, cost ten times the encoding.
        return _SEP.join((self[0], self[1], self[2], str(self[3]), str(self[4]))).encode()

    @classmethod
    def decode(cls, raw: bytes | str) -> WindowKey:
        text = raw.decode() if isinstance(raw, bytes) else raw
        customer, agent, category, size, start = text.split(_SEP)
        return cls(customer, agent, category, int(size), int(start))


# The window's identity as cost_windows columns, in WindowKey's order.
KEY_COLUMNS = ("customer_id", "agent_id", "category", "window_size", "window_start")
_COLUMN = "column"  # field metadata: the cost_windows column, where its name differs
# Field metadata: money held as whole pico-dollars (schemas.money.SCALE), its
# column a Decimal(38, 12) in USD. Integer sums are exact at any size; the
# sink writes the ints as the column's units, without a Decimal's text.
_PICO = "pico"
_MONEY = {_PICO: True}


@dataclass(slots=True)
class WindowAggregate:
    """A window's running totals: one field, one ``cost_windows`` column.

    Everything else is derived from these fields, in this order: the
    changelog encoding (:meth:`encode`, :meth:`decode`), the sink's columns
    and rows, and the snapshot query's SELECT list. A new counter is a field
    here, a term in :func:`increment` and a line in :func:`fold`, and a
    migration adding its column. Money fields are ints of pico-dollars
    (:data:`PICO_FIELDS`): convert at the edges (:func:`schemas.money.from_pico`).
    """

    cost: int = field(default=0, metadata=_MONEY)
    events: int = 0
    quantity: Decimal = ZERO
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    outcome_value: int = field(default=0, metadata=_MONEY)
    failed_outcomes: int = 0
    # Highest source position folded in, and the partition it belongs to (kept
    # so expiry can send tombstones to the right changelog partition).
    # ReplacingMergeTree keeps the snapshot with the highest version.
    last_offset: int = field(default=-1, metadata={_COLUMN: "version"})
    partition: int = field(default=-1, metadata={_COLUMN: "source_partition"})

    def copy(self) -> WindowAggregate:
        return WindowAggregate(*_values(self))

    def values(self) -> tuple[Any, ...]:
        """The fields in order (as :data:`AGGREGATE_COLUMNS`)."""
        return _values(self)

    def encode(self) -> bytes:
        """Changelog form: the form's tag, then the fields in order, comma-separated, as text.

        Money is its pico-dollar integer. Records without the tag are the
        first form, money as Decimal text in USD; :meth:`decode` reads both,
        so a changelog written by an older worker restores. The tag leads
        so that an older worker fails on this form rather than reading
        pico-dollars as dollars.
        """
        return _encode(self)

    @classmethod
    def decode(cls, raw: bytes) -> WindowAggregate:
        text = raw.decode()
        if text.startswith(_PICO_FORM):
            return _from_text(text[1:].split(","))
        return _from_values(text.split(","))  # the first form: money as Decimal text

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> WindowAggregate:
        """From the fields' values in order, as text or as their own types (a ClickHouse row).

        Money may be pico-dollar ints (the fields' own values) or USD as
        ``Decimal`` or its text (a ClickHouse row, the first changelog form).
        """
        return _from_values(values)


_FIELDS = fields(WindowAggregate)
AGGREGATE_FIELDS: dict[str, type] = {f.name: get_type_hints(WindowAggregate)[f.name] for f in _FIELDS}
AGGREGATE_COLUMNS = tuple(f.metadata.get(_COLUMN, f.name) for f in _FIELDS)
PICO_FIELDS = frozenset(f.name for f in _FIELDS if f.metadata.get(_PICO))
PICO_COLUMNS = frozenset(f.metadata.get(_COLUMN, f.name) for f in _FIELDS if f.metadata.get(_PICO))
_PICO_FORM = "p"  # the changelog form's tag, before its first field


def written_out(name: str, parameter: str, expression: str, namespace: dict[str, Any]) -> Any:
    """``def name(parameter): return expression``, the expression built from the field names.

    ``values`` and ``decode`` run for every window a batch touches, so they
    are written out field by field, as ``dataclasses`` writes ``__init__``:
    as fast as the hand-written methods, where ``attrgetter`` takes twice as
    long as a tuple display and a loop of conversions a quarter longer.
    """
    exec(f"def {name}({parameter}):\n    return {expression}\n", namespace)
    return namespace[name]


_values: Callable[[WindowAggregate], tuple[Any, ...]] = written_out(
    "values", "agg", "(" + ", ".join(f"agg.{name}" for name in AGGREGATE_FIELDS) + ",)", {}
)


# One bytes format, field by field: a third faster than joining the fields' text.
# Every field but quantity is an int (%d is str() for an int); quantity is a Decimal (its str()).
_encode: Callable[[WindowAggregate], bytes] = written_out(
    "encode",
    "agg",
    f'b"{_PICO_FORM}'
    + ",".join("%b" if name == "quantity" else "%d" for name in AGGREGATE_FIELDS)
    + '" % ('
    + ", ".join(
        f"str(agg.{name}).encode()" if name == "quantity" else f"agg.{name}" for name in AGGREGATE_FIELDS
    )
    + ",)",
    {},
)


def _usd_to_pico(value: Any) -> int:
    """A money field's value: its own int as is, USD (``Decimal`` or text) converted exactly."""
    return value if type(value) is int else to_pico(value if type(value) is Decimal else Decimal(value))


def _parsing(
    parse: Callable[[str, type], Callable[[Any], Any]],
) -> Callable[[Sequence[Any]], WindowAggregate]:
    """A reader of the fields' values in order, each through ``parse(name, type)``."""
    parsers = {f"_{i}": parse(name, kind) for i, (name, kind) in enumerate(AGGREGATE_FIELDS.items())}
    arguments = ", ".join(f"{parser}(v[{i}])" for i, parser in enumerate(parsers))
    reader: Callable[[Sequence[Any]], WindowAggregate] = written_out(
        "from_values", "v", f"WindowAggregate({arguments})", {"WindowAggregate": WindowAggregate, **parsers}
    )
    return reader


# A field's type both parses its text and takes its own type as is (Decimal, int);
# money also takes USD, as a ClickHouse row and the first changelog form hold it.
_from_values = _parsing(lambda name, kind: _usd_to_pico if name in PICO_FIELDS else kind)
# The changelog's current form: every field's own type as text, money its pico-dollar int.
_from_text = _parsing(lambda name, kind: kind)


def window_start(epoch_seconds: int, size: int) -> int:
    return epoch_seconds - epoch_seconds % size


# A NamedTuple's own __new__ is a Python function; tuple's builds the same
# key in C, a third less time for the keys of every event of every batch.
_new_key: Callable[[type[WindowKey], tuple[str, str, str, int, int]], WindowKey] = tuple.__new__


def window_keys(priced: PricedEvent, sizes: Iterable[int]) -> list[WindowKey]:
    """The windows one event falls in: per agent and per customer, each size."""
    event = priced.event
    at = int(event.occurred_at.timestamp())
    customer, agent, category = event.customer_id, event.agent_id, priced.category
    keys = []
    for size in sizes:
        start = at - at % size  # window_start, inline: this runs four times an event, twice a batch
        keys.append(_new_key(WindowKey, (customer, agent, category, size, start)))
        keys.append(_new_key(WindowKey, (customer, ALL_AGENTS, category, size, start)))
    return keys


Increment = tuple[int, int, Decimal, int, int, int, int, int, int, int]


def increment(priced: PricedEvent, picos: dict[Decimal, int]) -> Increment:
    """What one event adds to each of its windows, in the fields' order (money in pico-dollars).

    Computed once an event, not once for each of its windows. ``picos``
    remembers the Decimal costs converted so far: a batch's repeat (a
    tool's price, an outcome's zero), and a lookup is a fifth of a
    conversion.
    """
    cost = priced.cost_pico
    if cost is None:  # priced in Decimal
        cost = picos.get(priced.cost)
        if cost is None:
            cost = picos[priced.cost] = to_pico(priced.cost)
    tokens = priced.tokens
    event = priced.event
    value = failed = 0
    if event.kind == "outcome":
        if event.value is not None:
            value = to_pico(event.value)
        if not event.success:
            failed = 1
    return (
        cost, priced.events, priced.quantity, tokens.input, tokens.cached_input, tokens.cache_write,
        tokens.output, tokens.reasoning, value, failed,
    )  # fmt: skip


@dataclass(slots=True)
class FoldResult:
    # A dict where folded event by event; columns (streams.window_changes.WindowChanges) where whole.
    changed: Mapping[WindowKey, WindowAggregate] = field(default_factory=dict)
    folded: int = 0  # events counted for the first time
    skipped: int = 0  # events at or below a window's mark: already counted
    # Each changed window's WindowKey.encode(), in ``changed``'s order, where the fold had them.
    raw_keys: list[bytes] | None = None


def fold(
    batch: Iterable[Counted],
    sizes: Iterable[int],
    current: Mapping[WindowKey, WindowAggregate],
    keys: Iterable[list[WindowKey]] | None = None,
) -> FoldResult:
    """Fold ``(partition, position, priced)`` into copies of the current windows.

    ``current`` holds the state before the batch for every key the batch
    touches (missing keys start empty). ``keys``, when given, are each
    event's :func:`window_keys` (the processor computes them once a batch).
    The inputs are not modified.
    """
    sizes = tuple(sizes)
    if keys is None:  # made as they are needed: a batch's keys held at once cost the collector
        with_keys: Iterable[tuple[Counted, list[WindowKey]]] = (
            (item, window_keys(item[2], sizes)) for item in batch
        )
    else:
        with_keys = zip(batch, keys, strict=True)
    changed: dict[WindowKey, WindowAggregate] = {}
    result = FoldResult(changed)
    picos: dict[Decimal, int] = {}  # one batch's: bounded by its events
    for (partition, offset, priced), event_keys in with_keys:
        cost, events, quantity, input_, cached, write, output, reasoning, value, failed = increment(
            priced, picos
        )
        counted = False
        for key in event_keys:
            agg = changed.get(key)
            if agg is None:
                base = current.get(key)
                agg = base.copy() if base is not None else WindowAggregate(partition=partition)
            if offset <= agg.last_offset:
                continue
            agg.cost += cost
            agg.events += events
            agg.quantity += quantity
            agg.input_tokens += input_
            agg.cached_input_tokens += cached
            agg.cache_write_tokens += write
            agg.output_tokens += output
            agg.reasoning_tokens += reasoning
            if value or failed:  # outcomes only: most events skip two additions
                agg.outcome_value += value
                agg.failed_outcomes += failed
            agg.last_offset = offset
            agg.partition = partition
            changed[key] = agg
            counted = True
        if counted:
            result.folded += 1
        else:
            result.skipped += 1
    return result


def is_expired(key: WindowKey, watermark: int, retention: Mapping[int, int]) -> bool:
    """A window is dropped from worker state ``retention[size]`` seconds after it closes."""
    return key.end + retention.get(key.size, 0) < watermark
