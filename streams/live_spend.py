"""The worker's live spend per budget, published for the budget gate (:mod:`schemas.gate`).

:class:`streams.spend_control.SpendControl` hands each batch's changed
budget records here before it changelogs them, and waits for Kafka's acks,
as it does for alerts: a crash before the records are changelogged replays
the batch, which folds to the same records and publishes the same values
(same position) again, so the gate, keeping the highest position per key,
sees each update at least once and is never moved backwards. A batch that
changes no budget publishes nothing.

With each record go the gate reservations its batch counted under that
budget (events carrying the ``costline.reservation_id`` attribute): the
gate frees their holds in the same step as the spend grows.

Every few seconds (the worker's partition sampling) a :class:`PartitionMark`
per held partition says how far behind the worker is, so the gate can tell
"no usage" from "no worker". A lost mark only makes spend look older.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from schemas.gate import RESERVATION_ATTRIBUTE, LiveSpend, PartitionMark, live_spend_key, partition_mark_key
from schemas.money import ZERO
from streams.aggregation import Counted
from streams.kafka_batches import KeyPartitions, send_partitions
from streams.metrics import PartitionSample
from streams.spend_rules import BudgetBook
from streams.spend_state import BudgetSpend, split_key
from streams.window_batch import EventColumns

log = logging.getLogger(__name__)


def live_records(
    book: BudgetBook,
    changed: Mapping[bytes, BudgetSpend],
    counted: Sequence[Counted],
    at: datetime,
    columns: EventColumns | None = None,
) -> list[LiveSpend]:
    """The live spend of each changed budget record, with the reservations counted under it. Pure.

    ``columns``: the batch's, if it has them; then only the events carrying a reservation are made."""
    # An index into a CountedBatch makes that one event alone: the batch's others stay unmade.
    reserved = [(counted[i][2].event, rid) for i, rid in _reservations(counted, columns)]
    records = []
    for key, record in changed.items():
        _, budget_id, subject = split_key(key)
        budget = book.get(budget_id)
        settled = tuple(
            rid for event, rid in reserved if budget is not None and budget.subject(event) == subject
        )
        records.append(
            LiveSpend.model_construct(  # the worker's own figures, and ids its budgets validated
                budget_id=budget_id,
                subject=subject,
                period_start=datetime.fromtimestamp(record.period_start, UTC),
                spend=record.spend,
                hourly={h: v for h, v in record.hourly.items() if v != ZERO},
                partition=record.partition,
                position=record.position,
                settled=settled,
                published_at=at,
            )
        )
    return records


def _reservations(counted: Sequence[Counted], columns: EventColumns | None) -> list[tuple[int, str]]:
    """The index and reservation id of each event carrying one."""
    attributes: Iterable[Mapping[str, str]] = (
        columns.ledger.attributes if columns is not None and len(columns.ledger.attributes) == len(counted)
        else (priced.event.attributes for _, _, priced in counted)
    )  # fmt: skip
    return [
        (i, rid) for i, found in enumerate(attributes) if found and (rid := found.get(RESERVATION_ATTRIBUTE))
    ]


class LiveSpendOutlet:
    def __init__(
        self,
        book: BudgetBook,
        producer: Callable[[], Any],
        topic: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.book = book
        self.producer = producer  # the worker's aiokafka producer, once Faust has started it
        self.topic = topic
        self.now = now
        self._partitions = KeyPartitions()

    async def publish(
        self,
        changed: Mapping[bytes, BudgetSpend],
        counted: Sequence[Counted],
        columns: EventColumns | None = None,
    ) -> None:
        if not changed:
            return
        producer = self.producer()
        partitions = await producer.partitions_for(self.topic)
        by_partition: dict[int, list[tuple[bytes, bytes | None]]] = {}
        for r in live_records(self.book, changed, counted, self.now(), columns):
            key = live_spend_key(r.budget_id, r.subject)
            by_partition.setdefault(self._partitions.of(key, partitions), []).append(
                (key, r.model_dump_json().encode())
            )
        for delivery in await send_partitions(producer, self.topic, by_partition):
            await delivery  # acknowledged before the records move on

    async def mark(self, samples: Mapping[int, PartitionSample]) -> None:
        """Say, per partition, how far behind the worker is; only while budgets exist (no gate use else)."""
        if not len(self.book):
            return
        at = self.now()
        try:
            producer = self.producer()
            for partition, sample in samples.items():
                behind = None
                if sample.end_offset is not None and sample.processed is not None:
                    behind = max(0, sample.end_offset - sample.processed)
                mark = PartitionMark(partition=partition, behind=behind, at=at)
                await producer.send(
                    self.topic, key=partition_mark_key(partition), value=mark.model_dump_json().encode()
                )
        except Exception as exc:  # a heartbeat: the next one, in seconds, says the same
            log.warning("could not publish partition marks to %s: %s", self.topic, exc)
