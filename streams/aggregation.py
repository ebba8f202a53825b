"""Tumbling event-time windows, folded idempotently. Pure: no I/O.

Each window aggregate remembers the highest source position (message offset,
then place in the message) folded into it. All events of a customer share
one partition (the source topic is keyed by ``customer_id``) and arrive there
in order, so an event at or below that mark has already been counted: a batch
replayed after a crash re-folds to the very same state instead of double
counting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from streams.pricing import PricedEvent

ALL_AGENTS = "*"  # agent_id of the per-customer rollup
_SEP = "\x1f"  # unit separator: identifiers may not contain control characters
_INDEX_BITS = 16


def position(offset: int, index: int) -> int:
    """An event's place in its partition: message offset, then place in the message."""
    return (offset << _INDEX_BITS) | index


def split_position(pos: int) -> tuple[int, int]:
    return pos >> _INDEX_BITS, pos & ((1 << _INDEX_BITS) - 1)


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


@dataclass(slots=True)
class WindowAggregate:
    cost: Decimal = Decimal(0)
    events: int = 0
    quantity: Decimal = Decimal(0)
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    outcome_value: Decimal = Decimal(0)
    failed_outcomes: int = 0
    # Highest source position folded in, and the partition it belongs to (kept
    # so expiry can send tombstones to the right changelog partition).
    last_offset: int = -1
    partition: int = -1

    def add(self, priced: PricedEvent) -> None:
        self.cost += priced.cost
        self.events += 1
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
        return WindowAggregate(*self.values())

    def values(self) -> tuple[Any, ...]:
        return (
            self.cost,
            self.events,
            self.quantity,
            self.input_tokens,
            self.cached_input_tokens,
            self.cache_write_tokens,
            self.output_tokens,
            self.reasoning_tokens,
            self.outcome_value,
            self.failed_outcomes,
            self.last_offset,
            self.partition,
        )

    def encode(self) -> bytes:
        """Changelog form: the fields in order, comma-separated, decimals as text."""
        return ",".join(map(str, self.values())).encode()

    @classmethod
    def decode(cls, raw: bytes) -> WindowAggregate:
        v = raw.decode().split(",")
        return cls(
            Decimal(v[0]),
            int(v[1]),
            Decimal(v[2]),
            int(v[3]),
            int(v[4]),
            int(v[5]),
            int(v[6]),
            int(v[7]),
            Decimal(v[8]),
            int(v[9]),
            int(v[10]),
            int(v[11]),
        )


def window_start(epoch_seconds: int, size: int) -> int:
    return epoch_seconds - epoch_seconds % size


def window_keys(priced: PricedEvent, sizes: Iterable[int]) -> list[WindowKey]:
    """The windows one event falls in: per agent and per customer, each size."""
    event = priced.event
    at = int(event.occurred_at.timestamp())
    keys = []
    for size in sizes:
        start = window_start(at, size)
        keys.append(WindowKey(event.customer_id, event.agent_id, priced.category, size, start))
        keys.append(WindowKey(event.customer_id, ALL_AGENTS, priced.category, size, start))
    return keys


@dataclass(slots=True)
class FoldResult:
    changed: dict[WindowKey, WindowAggregate] = field(default_factory=dict)
    folded: int = 0  # events counted for the first time
    skipped: int = 0  # events at or below a window's mark: already counted


def fold(
    batch: Iterable[tuple[int, int, PricedEvent]],
    sizes: Iterable[int],
    current: Mapping[WindowKey, WindowAggregate],
) -> FoldResult:
    """Fold ``(partition, position, priced)`` into copies of the current windows.

    ``current`` holds the state before the batch for every key the batch
    touches (missing keys start empty). The inputs are not modified.
    """
    sizes = tuple(sizes)
    result = FoldResult()
    changed = result.changed
    for partition, offset, priced in batch:
        counted = False
        for key in window_keys(priced, sizes):
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
