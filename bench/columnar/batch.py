"""A batch of Kafka messages as priced columns; the worker's own path takes what the columns decline.

Fast messages (:mod:`streams.wire_columns`, :mod:`streams.column_pricing`) become
rows of columns directly; the others go through the worker's own
:func:`streams.intake.decode_and_price`, whose counted events are read into
the same columns one by one (rare: bad or unusual events), and whose dead
letters are the batch's, sorted into message order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import compress
from typing import Any

import numpy as np
import numpy.typing as npt

from schemas.dead_letters import DeadLetter
from schemas.money import to_pico
from streams.aggregation import Counted, position
from streams.column_pricing import Combo, PricedColumns, RateBook, price_columns
from streams.decoding import TimeBounds
from streams.intake import Message, decode_and_price
from streams.wire_columns import WireColumns, decode_batch, select

Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
Money = npt.NDArray[Any]
_NO_BOUND = 2**62
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class BatchColumns:
    """Every counted event of a batch, a column each; the last ``len(slow)`` rows came the worker's way."""

    partition: Ints
    position: Ints
    occurred_us: Ints
    customers: list[str]
    agents: list[str]
    event_ids: list[str]
    category: Ints  # into ``categories``
    categories: list[str]
    cost: Money
    quantity: Money
    tokens: Ints  # (rows, 5)
    events: Ints  # 1; a correction 0
    outcome_value: Money
    failed: Ints
    # The fast rows' own, for their ledger block: combination of price columns, optional ids, attributes.
    combo: Ints
    combos: list[Combo]
    optional_ids: dict[str, list[str]]
    attributes: list[dict[str, str]] | None
    slow: list[Counted] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.partition)

    @property
    def fast(self) -> int:
        return len(self) - len(self.slow)

    def select(self, keep: Mask) -> BatchColumns:
        if bool(keep.all()):
            return self
        flags = keep.tolist()
        fast = keep[: self.fast]

        def cut(values: list[Any], mask: list[bool]) -> list[Any]:
            return list(compress(values, mask))

        fast_flags = flags[: self.fast]
        return BatchColumns(
            self.partition[keep],
            self.position[keep],
            self.occurred_us[keep],
            cut(self.customers, flags),
            cut(self.agents, flags),
            cut(self.event_ids, flags),
            self.category[keep],
            self.categories,
            self.cost[keep],
            self.quantity[keep],
            self.tokens[keep],
            self.events[keep],
            self.outcome_value[keep],
            self.failed[keep],
            self.combo[fast],
            self.combos,
            {name: cut(values, fast_flags) for name, values in self.optional_ids.items()},
            None if self.attributes is None else cut(self.attributes, fast_flags),
            cut(self.slow, flags[self.fast :]),
        )


@dataclass(slots=True)
class Decoded:
    columns: BatchColumns
    dead: list[DeadLetter]
    slow_messages: int


def decode_and_price_columns(
    messages: Sequence[Message], book: RateBook, bounds: TimeBounds | None, now: datetime
) -> Decoded:
    """Every counted event of ``messages`` as columns, and the dead letters in message order."""
    values = [m.value or b"" for m in messages]
    keys = [m.key for m in messages]
    wire, slow = decode_batch(values, keys, _bounds(messages, bounds))
    priced = price_columns(book, wire)
    if bool(priced.declined.any()):
        declined = np.unique(wire.message[priced.declined])
        keep = ~np.isin(wire.message, declined)
        wire, slow = select(wire, keep), sorted({*slow, *declined.tolist()})
        priced = price_columns(book, wire)
    columns = _fast_columns(messages, wire, priced)
    dead: list[DeadLetter] = []
    if slow:
        counted, dead = decode_and_price([messages[i] for i in slow], book.catalog, bounds, now)
        columns = _with_slow(columns, list(counted))
    return Decoded(columns, dead, len(slow))


def _bounds(messages: Sequence[Message], bounds: TimeBounds | None) -> tuple[Ints, Ints] | None:
    """Per message, the earliest and latest occurred_at its broker time admits, in microseconds."""
    if bounds is None:
        return None
    stamps = (
        np.array([m.timestamp_ms if m.timestamp_ms is not None else 0 for m in messages], np.int64) * 1000
    )
    age = min(int(bounds.max_age_s * 1e6), _NO_BOUND)
    ahead = min(int(bounds.max_future_s * 1e6), _NO_BOUND)
    return stamps - age, stamps + ahead


def _fast_columns(messages: Sequence[Message], wire: WireColumns, priced: PricedColumns) -> BatchColumns:
    n = len(wire)
    partitions = np.array([m.partition for m in messages], np.int64)
    bases = np.array([position(m.offset, 0) for m in messages], np.int64)
    categories = sorted({combo[0] for combo in priced.combos})
    number = {name: i for i, name in enumerate(categories)}
    category_of = np.array([number[combo[0]] for combo in priced.combos] or [0], np.int64)
    outcome = category_of == number.get("outcome", -1)
    is_outcome = outcome[priced.combo] if n else np.zeros(0, np.bool_)
    return BatchColumns(
        partitions[wire.message],
        bases[wire.message] | wire.index,
        wire.occurred_us,
        wire.customers,
        wire.agents,
        wire.event_ids,
        category_of[priced.combo] if n else np.zeros(0, np.int64),
        categories,
        priced.cost,
        priced.quantity,
        priced.tokens,
        np.ones(n, np.int64),
        np.zeros(n, np.int64),
        (is_outcome & ~priced.success).astype(np.int64),
        priced.combo,
        priced.combos,
        wire.optional_ids,
        wire.attributes,
    )


def _with_slow(columns: BatchColumns, counted: list[Counted]) -> BatchColumns:
    """The worker's counted events appended as rows, field by field (the rare path)."""
    if not counted:
        return columns
    categories = list(columns.categories)
    number = {name: i for i, name in enumerate(categories)}
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "partition",
            "position",
            "us",
            "customer",
            "agent",
            "id",
            "category",
            "cost",
            "quantity",
            "tokens",
            "events",
            "value",
            "failed",
        )
    }
    for partition, pos, priced in counted:
        event = priced.event
        tokens = priced.tokens
        category = number.setdefault(priced.category, len(number))
        is_outcome = event.kind == "outcome"
        value = getattr(event, "value", None) if is_outcome else None
        for key, item in (
            ("partition", partition),
            ("position", pos),
            ("us", _micros(event.occurred_at)),
            ("customer", event.customer_id),
            ("agent", event.agent_id),
            ("id", event.event_id),
            ("category", category),
            ("cost", to_pico(priced.cost)),
            ("quantity", to_pico(priced.quantity)),
            (
                "tokens",
                [tokens.input, tokens.cached_input, tokens.cache_write, tokens.output, tokens.reasoning],
            ),
            ("events", priced.events),
            ("value", 0 if value is None else to_pico(value)),
            ("failed", int(is_outcome and not getattr(event, "success", True))),
        ):
            rows[key].append(item)
    categories = list(number)

    def joined(column: Money, more: list[Any]) -> Money:
        return np.concatenate((column.astype(object), np.array(more, dtype=object)))

    return BatchColumns(
        np.concatenate((columns.partition, rows["partition"])).astype(np.int64),
        np.concatenate((columns.position, rows["position"])).astype(np.int64),
        np.concatenate((columns.occurred_us, rows["us"])).astype(np.int64),
        columns.customers + rows["customer"],
        columns.agents + rows["agent"],
        columns.event_ids + rows["id"],
        np.concatenate((columns.category, rows["category"])).astype(np.int64),
        categories,
        joined(columns.cost, rows["cost"]),
        joined(columns.quantity, rows["quantity"]),
        np.concatenate((columns.tokens, np.array(rows["tokens"], np.int64).reshape(-1, 5))),
        np.concatenate((columns.events, rows["events"])).astype(np.int64),
        joined(columns.outcome_value, rows["value"]),
        np.concatenate((columns.failed, rows["failed"])).astype(np.int64),
        columns.combo,
        columns.combos,
        columns.optional_ids,
        columns.attributes,
        counted,
    )


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)
