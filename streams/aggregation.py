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

from schemas.money import ZERO
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


@dataclass(slots=True)
class WindowAggregate:
    """A window's running totals: one field, one ``cost_windows`` column.

    Everything else is derived from these fields, in this order: the
    changelog encoding (:meth:`encode`, :meth:`decode`), the sink's columns
    and rows, and the snapshot query's SELECT list. A new counter is a field
    here, a line in :meth:`add`, and a migration adding its column.
    """

    cost: Decimal = ZERO
    events: int = 0
    quantity: Decimal = ZERO
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    outcome_value: Decimal = ZERO
    failed_outcomes: int = 0
    # Highest source position folded in, and the partition it belongs to (kept
    # so expiry can send tombstones to the right changelog partition).
    # ReplacingMergeTree keeps the snapshot with the highest version.
    last_offset: int = field(default=-1, metadata={_COLUMN: "version"})
    partition: int = field(default=-1, metadata={_COLUMN: "source_partition"})

    def add(self, priced: PricedEvent) -> None:
        self.cost += priced.cost
        self.events += priced.events
        self.quantity += priced.quantity
        tokens = priced.tokens
        self.input_tokens += tokens.input
        self.cached_input_tokens += tokens.cached_input
        self.cache_write_tokens += tokens.cache_write
        self.output_tokens += tokens.output
        self.reasoning_tokens += tokens.reasoning
        event = priced.event
        if event.kind == "outcome":
            if event.value is not None:
                self.outcome_value += event.value
            if not event.success:
                self.failed_outcomes += 1

    def copy(self) -> WindowAggregate:
        return WindowAggregate(*_values(self))

    def values(self) -> tuple[Any, ...]:
        """The fields in order (as :data:`AGGREGATE_COLUMNS`)."""
        return _values(self)

    def encode(self) -> bytes:
        """Changelog form: the fields in order, comma-separated, decimals as text."""
        return ",".join(map(str, _values(self))).encode()

    @classmethod
    def decode(cls, raw: bytes) -> WindowAggregate:
        return _from_values(raw.decode().split(","))

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> WindowAggregate:
        """From the fields' values in order, as text or as their own types (a ClickHouse row)."""
        return _from_values(values)


_FIELDS = fields(WindowAggregate)
AGGREGATE_FIELDS: dict[str, type] = {f.name: get_type_hints(WindowAggregate)[f.name] for f in _FIELDS}
AGGREGATE_COLUMNS = tuple(f.metadata.get(_COLUMN, f.name) for f in _FIELDS)


def _written_out(name: str, parameter: str, expression: str, namespace: dict[str, Any]) -> Any:
    """``def name(parameter): return expression``, the expression built from the field names.

    ``values`` and ``decode`` run for every window a batch touches, so they
    are written out field by field, as ``dataclasses`` writes ``__init__``:
    as fast as the hand-written methods, where ``attrgetter`` takes twice as
    long as a tuple display and a loop of conversions a quarter longer.
    """
    exec(f"def {name}({parameter}):\n    return {expression}\n", namespace)
    return namespace[name]


_values: Callable[[WindowAggregate], tuple[Any, ...]] = _written_out(
    "values", "agg", "(" + ", ".join(f"agg.{name}" for name in AGGREGATE_FIELDS) + ",)", {}
)
# A field's type both parses its text and takes its own type as is (Decimal, int).
_PARSERS = {f"_{i}": kind for i, kind in enumerate(AGGREGATE_FIELDS.values())}
_from_values: Callable[[Sequence[Any]], WindowAggregate] = _written_out(
    "from_values",
    "v",
    "WindowAggregate(" + ", ".join(f"{parse}(v[{i}])" for i, parse in enumerate(_PARSERS)) + ")",
    {"WindowAggregate": WindowAggregate, **_PARSERS},
)


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


@dataclass(slots=True)
class FoldResult:
    changed: dict[WindowKey, WindowAggregate] = field(default_factory=dict)
    folded: int = 0  # events counted for the first time
    skipped: int = 0  # events at or below a window's mark: already counted


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
    result = FoldResult()
    changed = result.changed
    for (partition, offset, priced), event_keys in with_keys:
        counted = False
        for key in event_keys:
            agg = changed.get(key)
            if agg is None:
                base = current.get(key)
                agg = base.copy() if base is not None else WindowAggregate(partition=partition)
            if offset <= agg.last_offset:
                continue
            agg.add(priced)
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
