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
from typing import Protocol

import numpy as np

from schemas.dead_letters import DeadLetter, DeadLetterCode
from schemas.events import UsageEvent, dump_event
from streams.aggregation import position
from streams.decoding import Decoded, TimeBounds, decode_events
from streams.pricing import PriceCatalog, PricedEvent, TokenUsage, UnpriceableEventError
from streams.window_batch import CountedBatch, EventColumns


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
    """The counted events of ``messages`` with their columns, and the dead letters (dated ``now``)."""
    counted = CountedBatch()
    dead: list[DeadLetter] = []
    price = catalog.price
    count = counted.append
    partitions: list[int] = []
    positions: list[int] = []
    customers: list[str] = []
    event_ids: list[str] = []
    agents: list[str] = []
    kinds: list[str] = []
    times: list[datetime] = []
    costs: list[int | None] = []
    quantities: list[Decimal] = []
    tokens: list[TokenUsage] = []
    # Rows off the fast path, whose event count and category are read at the end: only they
    # may be corrections, which add no event and are counted under the corrected kind.
    strict: list[tuple[int, PricedEvent]] = []
    for msg in messages:
        events, decoded = decode_events(msg.value or b"", msg.timestamp_ms, bounds)
        items: Iterable[tuple[int, UsageEvent | None, Decoded | None]]
        # The common case without a Decoded per event; else each one, its error in its place.
        items = zip(range(len(events)), events, repeat(None)) if events else ((*d[:2], d) for d in decoded)
        partition, base, key = msg.partition, position(msg.offset, 0), msg.key
        keyed = ""  # a customer_id found to be the message's key: its other events match it
        before = len(counted)
        for index, event, item in items:
            if event is None:
                assert item is not None and item.error is not None
                dead.append(_dead(msg, item, *item.error, now))
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
                    dead.append(
                        _dead(msg, item or Decoded(index, event), DeadLetterCode.WRONG_KEY, reason, now)
                    )
                    continue
                keyed = customer
            try:
                priced = price(event)
            except UnpriceableEventError as exc:
                dead.append(_dead(msg, item or Decoded(index, event), exc.code, exc.reason, now))
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
            if item is not None:
                strict.append((len(kinds) - 1, priced))
        # Every event counted from a message is on its partition and of its key's customer.
        added = len(counted) - before
        partitions += repeat(partition, added)
        customers += repeat(keyed, added)
    n = len(counted)
    counts = [1] * n  # PricedEvent.events of an event the fast path built
    categories = kinds.copy()
    for row, priced in strict:
        counts[row], categories[row] = priced.events, priced.category
    counted.columns = EventColumns(
        counted,
        np.fromiter(partitions, np.int64, n),
        np.fromiter(positions, np.int64, n),
        np.fromiter(map(datetime.timestamp, times), np.float64, n),
        customers, event_ids, agents, kinds, costs, counts, quantities, tokens, categories,
    )  # fmt: skip
    return counted, dead


def _dead(msg: Message, item: Decoded, code: DeadLetterCode, reason: str, now: datetime) -> DeadLetter:
    """The rejected event alone, so replaying it cannot repeat its neighbours."""
    value = item.raw or (dump_event(item.event) if item.event is not None else msg.value)
    return DeadLetter(code, reason, msg.topic, msg.partition, msg.offset, msg.key, value, now, item.index)
