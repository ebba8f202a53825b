"""The windows table's in-memory store, restored from its changelog at consumer speed.

Faust restores a memory store by running every changelog record through
its stream machinery, about 6k records/s on two cores: the ~390k live
windows of a busy fleet took over a minute, however well the changelog is
compacted. This store reads its active changelog partitions itself with a
plain consumer (hundreds of thousands of records/s) during the rebalance,
before Faust's recovery looks, and then tells Faust it holds everything
up to the end, so Faust's own recovery reads nothing.

Only active partitions are restored this way. Standby partitions, which
another worker owns, stay with Faust: it follows them in the background
and they never hold up processing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.consumer.fetcher import PartitionRecords
from faust.stores import STORES
from faust.stores.memory import Store as MemoryStore
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth, server_list
from faust.types import TP

log = logging.getLogger(__name__)


def raw_records(key: bytes | None) -> bytes | None:
    """The restore consumer's key deserializer: a mark, never called (:func:`_raw_or_stock`)."""
    return key


_stock_consumer_record = PartitionRecords.__dict__.get("_consumer_record")


def _raw_or_stock(self: Any, tp: Any, record: Any) -> Any:
    """aiokafka's ``PartitionRecords._consumer_record``, but for the restore consumer (marked by
    :func:`raw_records`): the record as the batch reads it (``key``, ``value``, ``offset``).

    aiokafka makes each record a ``ConsumerRecord`` of eleven fields, with the sizes of its key
    and value and a tuple of its headers: 7 % of a restarted worker's CPU, about 1.8 µs of the
    ~4 µs a changelog record cost to restore (bench/RESULTS.md, session 23). The store reads a
    record's key and value alone. Every other consumer's records are made as aiokafka makes them.
    """
    if self._key_deserializer is raw_records:
        return record
    return _stock_consumer_record(self, tp, record)


def read_raw_records() -> bool:
    """Have consumers whose key deserializer is :func:`raw_records` yield records as read; False
    if aiokafka no longer makes its records as this module expects (then it is left as it is)."""
    if PartitionRecords.__dict__.get("_consumer_record") is _raw_or_stock:
        return True
    if (
        _stock_consumer_record is None
        or "_key_deserializer" not in PartitionRecords.__init__.__code__.co_names
    ):
        log.warning("aiokafka's fetcher does not make records as streams.changelog_store expects")
        return False
    PartitionRecords._consumer_record = _raw_or_stock
    return True


# A URL with a host: yarl's URL("scheme://") is falsy, and Faust would then
# fall back to the app's store.
URL = "costline-memory://windows"
STORES.aliases["costline-memory"] = f"{__name__}:RestoringStore"


class RestoringStore(MemoryStore):  # type: ignore[misc,type-arg]  # faust stores are untyped
    def __post_init__(self) -> None:
        super().__post_init__()
        # Per active changelog partition: the offset of the last record this
        # store holds (restored, or written by this worker since).
        self._held: dict[TP, int] = {}

    def persisted_offset(self, tp: TP) -> int | None:
        """Faust's recovery starts here; at the partition's last offset it reads nothing."""
        return self._held.get(tp)

    async def on_rebalance(
        self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP], generation_id: int = 0
    ) -> None:
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        topic = self.table.changelog_topic.get_topic_name()
        actives = {tp for tp in self.app.assignor.assigned_actives() if tp.topic == topic}
        for tp in set(self._held) - actives:
            del self._held[tp]
        kept = [tp for tp in actives if tp in self._held]
        fresh = [tp for tp in actives if tp not in self._held]
        await self._restore(fresh, kept)

    async def _restore(self, fresh: list[TP], kept: list[TP]) -> None:
        """Read ``fresh`` partitions from the start; ``kept`` ones this worker wrote itself."""
        if not fresh and not kept:
            return
        started = time.monotonic()
        raw = read_raw_records()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=server_list(self.app.conf.broker, 9092),
            key_deserializer=raw_records if raw else None,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
            # The app's own credentials (costline.kafka_auth.faust_credentials), as Faust's clients use them.
            **credentials_to_aiokafka_auth(self.app.conf.broker_credentials),
        )
        await consumer.start()
        try:
            tps = [TopicPartition(tp.topic, tp.partition) for tp in (*fresh, *kept)]
            end = await consumer.end_offsets(tps)
            for tp in kept:
                # Nobody else writes a partition this worker kept; what it holds is current.
                self._held[tp] = end[TopicPartition(tp.topic, tp.partition)] - 1
            records = await self._read(consumer, fresh, end)
        finally:
            await consumer.stop()
        log.info(
            "restored %d changelog records of %d partitions (%d live windows in total) in %.1fs",
            records,
            len(fresh),
            len(self.data),
            time.monotonic() - started,
        )

    async def _read(self, consumer: AIOKafkaConsumer, fresh: Iterable[TP], end: dict[Any, int]) -> int:
        data, key_partition = self.data, self._key_partition
        for tp in fresh:  # whatever is left of an earlier ownership may be stale
            for key in [k for k, p in key_partition.items() if p == tp.partition]:
                data.pop(key, None)
                del key_partition[key]
        pending = {TopicPartition(tp.topic, tp.partition): tp for tp in fresh}
        pending = {ktp: tp for ktp, tp in pending.items() if end[ktp] > 0}
        for tp in fresh:
            self._held[tp] = -1
        if not pending:
            return 0
        consumer.assign(list(pending))
        await consumer.seek_to_beginning(*pending)
        records = 0
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000, max_records=100_000)
            for ktp, batch in batches.items():
                # A key's last record in the batch is what it holds after it, a value or gone.
                last = {record.key: record.value for record in batch}
                data.update(last)
                key_partition.update(dict.fromkeys(last, ktp.partition))
                if None in last.values():
                    for key, value in last.items():
                        if value is None:
                            del data[key], key_partition[key]
                records += len(batch)
            for ktp in list(pending):
                position = await consumer.position(ktp)
                if position >= end[ktp]:
                    self._held[pending.pop(ktp)] = end[ktp] - 1
        return records
