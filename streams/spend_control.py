"""Spend control in the worker: fold a batch into budget and task records, then deliver its alerts.

Called by :class:`streams.processor.BatchProcessor` once a batch's ledger
rows and windows are in ClickHouse, before any state of the batch is
changelogged or its offsets committed. Per batch:

  1. evaluate the rules event by event (:mod:`streams.spend_rules`) against
     the records before the batch;
  2. write the alerts to ClickHouse ``alerts`` (a ReplacingMergeTree keyed
     by the deterministic alert id; retried while ClickHouse is away) and,
     at the same time,
  3. produce them to the alerts topic, keyed by id, and wait for the acks;
  4. publish the changed budgets' live spend for the budget gate
     (:mod:`streams.live_spend`), and wait for the acks;
  5. only then put the changed records in the table and send their changelog.

A crash before 5 replays the batch from the records before it: the same
alerts with the same ids, which ClickHouse keeps once (read with FINAL) and
the topic may carry twice. The topic's contract is at-least-once with a
stable id, as Stripe's and Lago's webhooks: a receiver drops an id it has
seen. A crash after 5 finds the records' marks at the batch's positions and
fires nothing again. No order loses an alert: each is stored and
acknowledged before the memory that it fired is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import attrgetter, not_
from typing import Any, Protocol, TypeVar, cast

from schemas.alerts import Alert
from streams.aggregation import Counted
from streams.anomaly_rules import DETECTOR_IDLE_S
from streams.kafka_batches import KeyPartitions, send_partitions
from streams.spend_rules import Evaluation, SpendRules
from streams.spend_state import (
    ANOMALY_PREFIX,
    BUDGET_PREFIX,
    TASK_PREFIX,
    BudgetSpend,
    DetectorRecord,
    EncodedRecord,
    RulesMark,
    TaskTally,
    key_head,
    rules_mark_key,
    split_key,
)
from streams.window_batch import EventColumns
from streams.window_state import ChangelogWriter

log = logging.getLogger(__name__)
T = TypeVar("T")
Retry = Callable[[Callable[[], Awaitable[T]], str], Awaitable[T]]
ALERT_COLUMNS = (
    "alert_id",
    "customer_id",
    "budget_id",
    "rule",
    "status",
    "occurred_at",
    "emitted_at",
    "payload",
)


def alert_row(alert: Alert, payload: bytes | None = None) -> list[Any]:
    """``payload``: the alert's, if made already."""
    text = (alert.payload() if payload is None else payload).decode()
    return [alert.alert_id, alert.customer_id, alert.budget_id, str(alert.rule), str(alert.status),
            alert.occurred_at, alert.emitted_at, text]  # fmt: skip


class AlertOutlet(Protocol):
    """Where alerts go: stored (idempotently, by id), then published."""

    async def store(self, alerts: Sequence[Alert]) -> None: ...
    async def publish(self, alerts: Sequence[Alert]) -> None: ...


class ClickHouseKafkaOutlet:
    def __init__(self, client: Any, producer: Callable[[], Any], topic: str) -> None:
        self.client = client
        self.producer = producer  # the worker's aiokafka producer, once Faust has started it
        self.topic = topic
        self._partitions = KeyPartitions(kept_max=10_000)  # ids seldom repeat: a small cache
        # The last alerts' payloads: stored and published side by side (and stored again on a
        # retry), each alert's JSON is made once. Dropped once both are done: kept until the next
        # batch, a batch's alerts (some ten tracked objects each) would outlive it, and the collection
        # it owes would traverse them (bench/RESULTS.md, "Session 23, the collector after batches").
        self._made: tuple[Sequence[Alert], list[bytes], set[str]] | None = None

    def _payloads(self, alerts: Sequence[Alert]) -> list[bytes]:
        made = self._made
        if made is None or made[0] is not alerts:
            made = self._made = (alerts, [a.payload() for a in alerts], {"store", "publish"})
        return made[1]

    def _done(self, alerts: Sequence[Alert], use: str) -> None:
        """``alerts`` are through ``use`` (stored, or published and acknowledged)."""
        made = self._made
        if made is not None and made[0] is alerts:
            made[2].discard(use)
            if not made[2]:
                self._made = None

    async def store(self, alerts: Sequence[Alert]) -> None:
        rows = list(map(alert_row, alerts, self._payloads(alerts)))
        await self.client.insert("alerts", rows, column_names=list(ALERT_COLUMNS))
        self._done(alerts, "store")

    async def publish(self, alerts: Sequence[Alert]) -> None:
        producer = self.producer()
        partitions = await producer.partitions_for(self.topic)
        # Each alert on its id's partition, as the producer's partitioner puts it; in order within one.
        by_partition: dict[int, list[tuple[bytes, bytes | None]]] = {}
        for alert, payload in zip(alerts, self._payloads(alerts), strict=True):
            key = alert.alert_id.encode()
            by_partition.setdefault(self._partitions.of(key, partitions), []).append((key, payload))
        for delivery in await send_partitions(producer, self.topic, by_partition):
            await delivery  # acknowledged before the records say it fired
        self._done(alerts, "publish")


class LiveSpendSink(Protocol):
    """Where each batch's changed budget spend goes, for the gate (:mod:`streams.live_spend`)."""

    async def publish(
        self, changed: Mapping[bytes, BudgetSpend], counted: Sequence[Counted], columns: EventColumns | None
    ) -> None: ...


R = TypeVar("R", BudgetSpend, TaskTally, DetectorRecord)
_PARTITION = attrgetter("partition")


class StoredRecord(Protocol):
    """A budget's, a task's or a detector's record: its bytes, and the partition it is on."""

    @property
    def partition(self) -> int: ...

    def encode(self) -> bytes: ...


_ANOMALY_HEAD, _TASK_HEAD, _BUDGET_HEAD = (
    key_head(ANOMALY_PREFIX),
    key_head(TASK_PREFIX),
    key_head(BUDGET_PREFIX),
)


def _dict_of(store: Any) -> Mapping[bytes, bytes]:
    """The dict under a Faust memory store (a ``FastUserDict``, whose ``get`` is Python's
    ``Mapping.get``: a call and, for a key it lacks, a ``KeyError`` caught): reads go straight to it."""
    inner = getattr(store, "data", None)
    return inner if type(inner) is dict else cast(Mapping[bytes, bytes], store)


class TableSpend:
    """Budget and task records in a Faust table, changelogged to the customer's partition.

    The records a batch wrote are kept decoded, next to the bytes they were
    written as: the next batch reads them without decoding (detector states
    above all) when the table still holds those very bytes (not after a
    rebalance or a restore). The rules change the records they read in place,
    so a batch that fails forgets them all (:meth:`SpendControl.apply`).

    The bytes and the record are kept in two dicts under the key, not as a pair: a pair per
    record written is a tracked object that outlives its batch, which the collection the batch
    owes then traverses (a quarter of its objects, over a third of its time; bench/RESULTS.md,
    "Session 23, the collector after batches"). Bytes are not tracked; both dicts hold the same keys.
    """

    def __init__(self, table: Any, decoded_max: int = 500_000) -> None:
        self.table = table
        self.changelog = ChangelogWriter(table)
        self._decoded: dict[bytes, Any] = {}  # key -> the record its kept bytes decode to
        self._decoded_raw: dict[bytes, bytes] = {}  # key -> the bytes its record was kept as
        self._decoded_max = decoded_max

    def _read(self, key: bytes, decode: Callable[[bytes], R]) -> R | None:
        raw = _dict_of(self.table.data).get(key)
        return None if raw is None else self._kept(key, raw, decode)

    def _kept(self, key: bytes, raw: bytes, decode: Callable[[bytes], R]) -> R:
        if self._decoded_raw.get(key) is raw:
            return cast(R, self._decoded[key])
        return decode(raw)

    def budget(self, key: bytes) -> BudgetSpend | None:
        return self._read(key, BudgetSpend.decode)

    def task(self, key: bytes) -> TaskTally | None:
        return self._read(key, TaskTally.decode)

    def mark(self, partition: int) -> RulesMark:
        raw = self.table.data.get(rules_mark_key(partition))
        return RulesMark.decode(raw) if raw is not None else RulesMark()

    def detector(self, key: bytes) -> DetectorRecord | None:
        return self._read(key, DetectorRecord.decode)

    def detector_raws(self, keys: Sequence[bytes]) -> list[bytes | None]:
        """The bytes stored under each of ``keys`` (None: none), for a fold that reads them itself
        (:mod:`streams.day_folds`)."""
        return list(map(_dict_of(self.table.data).get, keys))

    def detectors(self, keys: Sequence[bytes]) -> list[DetectorRecord | None]:
        """:meth:`detector` of each of ``keys``: a batch's keys of a detector read in two passes in C
        (the store's dict, the decoded ones), not three calls a key."""
        raws = list(map(_dict_of(self.table.data).get, keys))
        kept = list(map(self._decoded_raw.get, keys))
        decoded, decode = self._decoded, DetectorRecord.decode
        return [
            None if raw is None else decoded[key] if was is raw else decode(raw)
            for key, raw, was in zip(keys, raws, kept, strict=True)
        ]

    def put(self, key: bytes, raw: bytes, partition: int, record: object = None) -> None:
        """Store ``raw`` under ``key``; ``record`` is what it decodes to, kept for the next read."""
        store = self.table.data
        store[key] = raw
        key_partition = getattr(store, "_key_partition", None)
        if key_partition is not None:  # as streams.window_state.TableState._store
            key_partition[key] = partition
        self.changelog.add(partition, key, raw)
        if record is None or type(record) is EncodedRecord or self._decoded_max <= 0:
            self._decoded.pop(key, None)
            self._decoded_raw.pop(key, None)
            return
        if len(self._decoded) >= self._decoded_max:
            self.forget_decoded()  # a cache, not a memory: the table has everything
        self._decoded[key] = record
        self._decoded_raw[key] = raw

    def put_records(self, records: Mapping[bytes, StoredRecord]) -> None:
        """:meth:`put` of each record's encoding, the record kept for the next read.

        A batch's records (tens of thousands of detectors) a step at a time over them all: encoded,
        then stored, mapped to their partitions and kept each in one call, in C (the store's own
        ``update``: a Faust store's item assignment is a Python call a record); their changelog
        records appended partition by partition.
        """
        if not records:
            return
        store, decoded, decoded_raw = self.table.data, self._decoded, self._decoded_raw
        keys, kept = list(records), list(records.values())
        raws = [record.encode() for record in kept]
        partitions = list(map(_PARTITION, kept))
        store.update(zip(keys, raws, strict=True))
        key_partition = getattr(store, "_key_partition", None)
        if key_partition is not None:  # as streams.window_state.TableState._store
            key_partition.update(zip(keys, partitions, strict=True))
        first = partitions[0]
        if partitions.count(first) == len(partitions):  # one partition: a worker's usual batch of it
            self.changelog.records_of(first).extend(zip(keys, raws, strict=True))
        else:
            pending: dict[int, Callable[[tuple[bytes, bytes]], None]] = {}
            for key, raw, partition in zip(keys, raws, partitions, strict=True):
                append = pending.get(partition)
                if append is None:
                    append = pending[partition] = self.changelog.records_of(partition).append
                append((key, raw))
        if EncodedRecord in set(map(type, kept)):
            # Kept as bytes alone, decoded when read. A decoded record kept for such a key before is
            # left: it is kept with the bytes it was, which the store no longer holds, so never read.
            kept_decoded = list(map(not_, map(isinstance, kept, repeat(EncodedRecord))))
            keys, kept = list(compress(keys, kept_decoded)), list(compress(kept, kept_decoded))
            raws = list(compress(raws, kept_decoded))
        if self._decoded_max <= 0:
            for key in keys:
                decoded.pop(key, None)
                decoded_raw.pop(key, None)
        elif len(decoded) + len(keys) < self._decoded_max:  # no clearing on the way: all kept at once
            decoded.update(zip(keys, kept, strict=True))
            decoded_raw.update(zip(keys, raws, strict=True))
        else:
            for key, raw, record in zip(keys, raws, kept, strict=True):
                if len(decoded) >= self._decoded_max:
                    self.forget_decoded()  # as put: a cache, not a memory
                decoded[key] = record
                decoded_raw[key] = raw

    def forget_decoded(self) -> None:
        """Read every record from its bytes again: the decoded ones may hold a failed batch's changes."""
        self._decoded.clear()
        self._decoded_raw.clear()

    async def flush(self) -> None:
        await self.changelog.flush()

    async def expire(
        self, assigned: Iterable[int], task_idle_s: float, budget_exists: Callable[[str], bool]
    ) -> int:
        """Forget tasks idle past ``task_idle_s`` (event time), records of deleted budgets, and
        anomaly detectors idle past the longest window they keep.

        Every record of the table is looked at (each 30 s): a record's kind is told by its key's first
        bytes, not its key decoded and split, and a record this worker wrote is read as it was kept.
        """
        marks = {p: self.mark(p).event_time for p in assigned}
        idle_before = {p: (mark - task_idle_s, mark - DETECTOR_IDLE_S) for p, mark in marks.items()}
        data, decoded, decoded_raw = self.table.data, self._decoded, self._decoded_raw
        gone: list[tuple[bytes, int]] = []
        for raw_key, raw in list(data.items()):
            head = raw_key[:2]
            if head == _ANOMALY_HEAD:
                record = decoded[raw_key] if decoded_raw.get(raw_key) is raw else DetectorRecord.decode(raw)
                partition = record.partition
                before = idle_before.get(partition)
                if before is None or record.last_seen >= before[1]:
                    continue
            elif head == _TASK_HEAD:
                tally = self._kept(raw_key, raw, TaskTally.decode)
                partition = tally.partition
                before = idle_before.get(partition)
                if before is None or tally.last_seen >= before[0]:
                    continue
            elif head == _BUDGET_HEAD:
                if budget_exists(split_key(raw_key)[1]):
                    continue  # a budget's record lives as long as the budget: no need to decode it
                partition = self._kept(raw_key, raw, BudgetSpend.decode).partition
                if partition not in marks:
                    continue
            else:  # the rules' marks
                continue
            gone.append((raw_key, partition))
        dropped = 0
        for raw_key, partition in gone:
            if data.pop(raw_key, None) is not None:
                decoded.pop(raw_key, None)
                decoded_raw.pop(raw_key, None)
                self.changelog.add(partition, raw_key, None)
                dropped += 1
        await self.changelog.flush()
        return dropped


@dataclass
class SpendControl:
    rules: SpendRules
    records: TableSpend
    outlet: AlertOutlet
    live: LiveSpendSink | None = None

    async def apply(
        self, counted: Sequence[Counted], retry: Retry[None], columns: EventColumns | None = None
    ) -> list[Alert]:
        """``columns``: the batch's, as the worker read them (:mod:`streams.window_batch`), if it has them:
        the rules read them rather than every event again."""
        return await self.commit(self.judge(counted, columns), counted, retry)

    def judge(self, counted: Sequence[Counted], columns: EventColumns | None = None) -> Evaluation:
        """The batch's alerts and changed records, nothing written yet: the worker judges a batch
        while ClickHouse stores it, and :meth:`commit` s it once stored, or :meth:`discard` s it."""
        try:
            return self.rules.evaluate(counted, self.records, columns)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Forget a judgement that will not be committed."""
        # The rules changed the records they read in place: a batch that did not store them
        # must not leave those changes to be read again (by a retry, or after a rebalance).
        self.records.forget_decoded()

    async def commit(self, result: Evaluation, counted: Sequence[Counted], retry: Retry[None]) -> list[Alert]:
        """Send a stored batch's alerts and write its records."""
        try:
            return await self._commit(result, counted, retry)
        except BaseException:
            self.discard()
            raise

    async def _commit(
        self, result: Evaluation, counted: Sequence[Counted], retry: Retry[None]
    ) -> list[Alert]:
        alerts = result.alerts
        if alerts:
            # Both before the records say they fired, in either order: side by side, so an alert
            # reaches the topic one ClickHouse round trip sooner.
            await asyncio.gather(retry(lambda: self.outlet.store(alerts), "write of alerts"),
                                 self.outlet.publish(alerts))  # fmt: skip
            for alert in alerts:  # debug: a busy fleet passes task limits every batch; they are on the topic
                log.debug("alert %s %s", alert.alert_id, alert.reason)
        if self.live is not None and result.budgets:
            await self.live.publish(result.budgets, counted, result.columns)
        self.records.put_records(result.budgets)
        self.records.put_records(result.tasks)
        self.records.put_records(result.detectors)
        for partition, mark in result.marks.items():
            self.records.put(rules_mark_key(partition), mark.encode(), partition)
        await self.records.flush()
        return alerts
