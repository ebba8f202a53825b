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
from schemas.events import Correction, UsageEvent, dump_event
from streams.aggregation import position
from streams.decoding import Decoded, TimeBounds, decode_events
from streams.pricing import PriceCatalog, PricedEvent, TokenUsage, UnpriceableEventError
from streams.window_batch import CountedBatch, EventColumns, LedgerFacts


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
    # Corrections, whose event count (none) and category (the corrected kind) are not the
    # 1 and the kind of every other event; only the strict path reads them.
    corrections: list[tuple[int, PricedEvent]] = []
    for msg in messages:
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
        elif added:
            partitions += repeat(partition, added)
            customers += repeat(keyed, added)
    n = len(counted)
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
        LedgerFacts.of([priced for _, _, priced in counted]),
    )  # fmt: skip
    return counted, dead


def _dead(msg: Message, item: Decoded, code: DeadLetterCode, reason: str, now: datetime) -> DeadLetter:
    """The rejected event alone, so replaying it cannot repeat its neighbours."""
    value = item.raw or (dump_event(item.event) if item.event is not None else msg.value)
    return DeadLetter(code, reason, msg.topic, msg.partition, msg.offset, msg.key, value, now, item.index)
