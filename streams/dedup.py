"""Which (customer, ``event_id``) pairs were counted within the dedup horizon.

A producer that retries publishes the same ``event_id`` again, at a later
offset, maybe with another ``occurred_at`` or payload. The first version
counted wins; a repeat within ``COSTLINE_DEDUP_HORIZON_S`` (processing time,
default 24 h, at most 35 days) is dropped.

ClickHouse is the truth: the ``event_ids`` table, fed from ``ledger`` by a
materialized view (``sql/ddl/008_event_ids.sql``), holds every counted id
with its source position and ingestion time, the id kept as the ledger keeps
it (a UUID's halves, any other id's text: ``027_event_ids_uuid_halves.sql``).
The worker keeps, per assigned partition, an :class:`IdFilter`: a Bloom filter of the ids counted within
the horizon, in time buckets so whole buckets expire by the clock. Only
ids the filter may have seen (about 1 in 60 of new ids are false alarms, 3 bytes an id)
are confirmed against ``event_ids``, in one query per batch. The filter has
no false negatives, so an id it does not know was not counted within the
horizon by this partition.

When a partition is assigned (start, restart, rebalance), its filter is
rebuilt from ``event_ids`` (hashes computed by the server, the same
xxHash64 as :func:`id_hashes`) before its first batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import compress
from operator import is_not
from typing import NamedTuple, overload

import numpy as np
import numpy.typing as npt
import xxhash

from streams.native_extension import native_extension

HORIZON_MIN_S = 3600.0
HORIZON_MAX_S = 35 * 86_400.0
# ``event_ids`` keeps rows this long (its TTL): the longest horizon and a day.
RETENTION_S = HORIZON_MAX_S + 86_400.0


class CountedId(NamedTuple):
    """Where and when an id was counted: a row of ``event_ids``."""

    partition: int
    position: int
    counted_at: float  # unix seconds (ledger ingested_at)
    occurred_at_us: int


Hashes = npt.NDArray[np.uint64]
Seconds = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

_BUCKETS = 16  # an id stays between one horizon and 1/16 more
_BITS_PER_ID = 24  # with 8 probes in one word: ~0.1% false positives per full segment
_PROBES = 8  # bits set per id, all in one 64-bit word
_MIN_CAPACITY = 1024
_MIX = np.uint64(0x9E3779B97F4A7C15)  # decorrelates the probe bits from the word index
_RUN_ROWS = 8  # id_keys joins a run at a time where runs of one customer object are this long or more


def id_key(customer_id: str, event_id: str) -> bytes:
    # Ids have no control characters (schemas.events.Identifier), so NUL
    # cannot be part of either and the pair is unambiguous.
    return f"{customer_id}\x00{event_id}".encode()


def id_keys(customers: Sequence[str], event_ids: Sequence[str]) -> list[bytes]:
    """:func:`id_key` of each (customer, event_id), built as one text split once: a batch's
    ids are cold in the cache by now, and two passes in C touch them least. Where a customer's
    text is one object over a run of rows (the columnar decode's: one a message), a run's ids are
    joined at once with the customer between them, not joined a pair at a time."""
    n = len(customers)
    if n != len(event_ids):
        raise ValueError(f"{n} customers for {len(event_ids)} event ids")
    if not n:
        return []
    # Where a run of one customer object starts: a compare of pointers, no text read.
    starts = [0, *compress(range(1, n), map(is_not, customers[1:], customers[:-1]))]
    if len(starts) * _RUN_ROWS > n:  # short runs: a join a pair
        text = "\n".join(map("\x00".join, zip(customers, event_ids, strict=True))).encode()
    else:
        ends = [*starts[1:], n]
        runs = []
        for start, end in zip(starts, ends, strict=True):
            customer = customers[start]
            runs.append(customer + "\x00" + f"\n{customer}\x00".join(event_ids[start:end]))
        text = "\n".join(runs).encode()
    keys = text.split(b"\n")
    if len(keys) != n:  # a newline in an id, which the contract refuses: be exact anyway
        return [id_key(c, e) for c, e in zip(customers, event_ids, strict=True)]
    return keys


class IdColumns(Sequence[tuple[str, str]]):
    """(customer, event_id) pairs held as two columns, as the batch reads them.

    The sink sends them to ClickHouse as a Native block of the two columns
    (:func:`streams.sinks.clickhouse_sink.candidates_block`); no pair, key or
    text row is made for an id, and a pair is made only when one is asked for.
    """

    __slots__ = ("customers", "event_ids")

    def __init__(self, customers: Sequence[str], event_ids: Sequence[str]) -> None:
        if len(customers) != len(event_ids):
            raise ValueError(f"{len(customers)} customers for {len(event_ids)} event ids")
        self.customers, self.event_ids = customers, event_ids

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> IdColumns:
        pairs = list(pairs)
        return cls([c for c, _ in pairs], [e for _, e in pairs])

    def __len__(self) -> int:
        return len(self.customers)

    @overload
    def __getitem__(self, index: int) -> tuple[str, str]: ...
    @overload
    def __getitem__(self, index: slice) -> IdColumns: ...
    def __getitem__(self, index: int | slice) -> tuple[str, str] | IdColumns:
        if isinstance(index, slice):
            return IdColumns(self.customers[index], self.event_ids[index])
        return self.customers[index], self.event_ids[index]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return zip(self.customers, self.event_ids, strict=True)


def id_hashes(pairs: Iterable[tuple[str, str]]) -> Hashes:
    """xxHash64 of each (customer, event_id); ClickHouse computes the same as
    ``xxHash64(concat(customer_id, '\\0', event_id))``."""
    return np.fromiter((xxhash.xxh64_intdigest(id_key(c, e)) for c, e in pairs), dtype=np.uint64)


def key_hashes(keys: Sequence[bytes]) -> Hashes:
    """:func:`id_hashes` of pairs already joined by :func:`id_key`."""
    return np.fromiter(map(xxhash.xxh64_intdigest, keys), dtype=np.uint64, count=len(keys))


def batch_id_hashes(
    customers: Sequence[str], event_ids: Sequence[str]
) -> tuple[Hashes, bool, list[bytes] | None]:
    """:func:`key_hashes` of the :func:`id_keys` of a batch's ids, whether no two are equal (then no
    two ids are), and the keys where made. Native where built (native/src/ids.rs): no key made, ~5x
    cheaper; the processor makes keys only for the ids it looks up, and for a batch with a hash twice.
    The reference hashes the keys, and hands them on: made twice, they would cost more than before."""
    if _native is not None:
        try:
            raw, distinct = _native.id_hashes(_listed(customers), _listed(event_ids))
        except (TypeError, UnicodeEncodeError):  # not all exactly str, or a lone surrogate: id_key decides
            pass
        else:
            return np.frombuffer(raw, np.uint64), distinct, None
    keys = id_keys(customers, event_ids)
    hashes = key_hashes(keys)
    return hashes, _distinct(hashes), keys


def _distinct(hashes: Hashes) -> bool:
    # Sorted, equal hashes are neighbours: NumPy 2's unique() hashes them, ~15x slower for 100k.
    ordered = np.sort(hashes)
    return not bool((ordered[1:] == ordered[:-1]).any())


def _listed(texts: Sequence[str]) -> list[str]:
    return texts if type(texts) is list else list(texts)


# COSTLINE_ID_HASHES=python asks for batch_id_hashes' reference.
_native = native_extension("COSTLINE_ID_HASHES", "id_hashes")


def _probe_masks(hashes: Hashes) -> Hashes:
    mixed = hashes * _MIX
    masks = np.zeros(len(hashes), dtype=np.uint64)
    for probe in range(_PROBES):
        masks |= np.uint64(1) << ((mixed >> np.uint64(16 + 6 * probe)) & np.uint64(63))
    return masks


class _Segment:
    """A blocked Bloom filter of fixed capacity: each id sets a few bits of one word."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.count = 0
        self.words = np.zeros(max(1, capacity * _BITS_PER_ID // 64), dtype=np.uint64)

    def _slots(self, hashes: Hashes) -> npt.NDArray[np.uint64]:
        # The high 32 bits scaled to the word count: a multiply, not a modulo.
        return ((hashes >> np.uint64(32)) * np.uint64(len(self.words))) >> np.uint64(32)

    def add(self, hashes: Hashes, masks: Hashes) -> None:
        np.bitwise_or.at(self.words, self._slots(hashes), masks)
        self.count += len(hashes)

    def contains(self, hashes: Hashes, masks: Hashes) -> Mask:
        found: Mask = (self.words[self._slots(hashes)] & masks) == masks
        return found


class IdFilter:
    """The ids one partition counted within ``horizon_s`` of ``clock()``; no false negatives.

    Bucket ``b`` holds ids added in ``[b, b + 1) * width`` seconds and is
    dropped once its end is a horizon old. A bucket grows by segments of
    doubling capacity, the first one as large as the previous bucket, so
    its false-positive rate stays near that of a filter sized for its count.
    """

    def __init__(self, horizon_s: float, clock: Callable[[], float] = time.time) -> None:
        self.horizon_s = horizon_s
        self.width = horizon_s / _BUCKETS
        self._clock = clock
        self._buckets: dict[int, list[_Segment]] = {}

    def _bucket(self, at: float) -> int:
        return int(at // self.width)

    def expire(self) -> None:
        """Drop buckets whose every id was added more than a horizon ago."""
        now = self._clock()
        for bucket in [b for b in self._buckets if (b + 1) * self.width + self.horizon_s <= now]:
            del self._buckets[bucket]

    def add(self, hashes: Hashes, at: float | None = None) -> None:
        if len(hashes) == 0:
            return
        self.expire()
        bucket = self._bucket(self._clock() if at is None else at)
        segments = self._buckets.get(bucket)
        if segments is None:
            previous = self._buckets.get(bucket - 1, [])
            segments = self._buckets[bucket] = [_Segment(max(_MIN_CAPACITY, sum(s.count for s in previous)))]
        masks = _probe_masks(hashes)
        start = 0
        while start < len(hashes):
            segment = segments[-1]
            room = segment.capacity - segment.count
            if room <= 0:
                segment = _Segment(max(segment.capacity * 2, len(hashes) - start))
                segments.append(segment)
                room = segment.capacity
            segment.add(hashes[start : start + room], masks[start : start + room])
            start += room

    def load(self, hashes: Hashes, added_at: Seconds) -> None:
        """Rebuild from ids and the times they were counted: one exactly sized segment per bucket."""
        self._buckets.clear()
        now = self._clock()
        live = added_at > now - self.horizon_s - self.width
        hashes, buckets = hashes[live], (added_at[live] // self.width).astype(np.int64)
        for bucket in np.unique(buckets):
            chosen = hashes[buckets == bucket]
            segment = _Segment(max(_MIN_CAPACITY, len(chosen)))
            segment.add(chosen, _probe_masks(chosen))
            self._buckets[int(bucket)] = [segment]
        self.expire()

    def might_contain(self, hashes: Hashes) -> Mask:
        self.expire()
        found = np.zeros(len(hashes), dtype=np.bool_)
        if len(hashes) == 0 or not self._buckets:
            return found
        masks = _probe_masks(hashes)
        for segments in self._buckets.values():
            for segment in segments:
                found |= segment.contains(hashes, masks)
        return found

    def __len__(self) -> int:
        return sum(s.count for segments in self._buckets.values() for s in segments)

    @property
    def nbytes(self) -> int:
        return sum(s.words.nbytes for segments in self._buckets.values() for s in segments)


class DedupIndex:
    """One :class:`IdFilter` per assigned source partition, all with the same horizon and clock."""

    def __init__(self, horizon_s: float, clock: Callable[[], float] = time.time) -> None:
        if not HORIZON_MIN_S <= horizon_s <= HORIZON_MAX_S:
            raise ValueError(
                f"dedup horizon {horizon_s}s is outside {HORIZON_MIN_S:.0f}..{HORIZON_MAX_S:.0f}s"
            )
        self.horizon_s = horizon_s
        self.clock = clock
        self._partitions: dict[int, IdFilter] = {}

    def get(self, partition: int) -> IdFilter | None:
        return self._partitions.get(partition)

    def install(self, partition: int, hashes: Hashes, added_at: Seconds) -> IdFilter:
        ids = IdFilter(self.horizon_s, self.clock)
        ids.load(hashes, added_at)
        self._partitions[partition] = ids
        return ids

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._partitions.pop(partition, None)

    def expire(self) -> None:
        for ids in self._partitions.values():
            ids.expire()

    def partitions(self) -> Sequence[int]:
        return sorted(self._partitions)

    def __len__(self) -> int:
        return sum(len(f) for f in self._partitions.values())

    @property
    def nbytes(self) -> int:
        return sum(f.nbytes for f in self._partitions.values())
