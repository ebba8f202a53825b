"""One batch of raw usage messages: validate, price, dedup, fold, sink.

Free of Faust so it can be driven by tests; :mod:`streams.agents` feeds it
``stream.take_events`` batches and provides the table-backed state.

Order per batch, before any offset of it is committed:
  1. decode, validate and price each message (failures become dead letters);
  2. drop ``event_id``s the customer was already counted for within the
     dedup horizon (:mod:`streams.dedup`, :meth:`BatchProcessor._drop_duplicates`);
  3. fold into copies of the touched windows, window by window
     (:mod:`streams.window_batch`), else event by event (:func:`streams.aggregation.fold`);
  4. write ledger rows, window snapshots and dead letters to ClickHouse;
  5. update the windows table and send dead letters to their topic.
A crash anywhere replays the batch from its first offset, and every step is
idempotent for a replay.

ClickHouse failures (:mod:`streams.sinks.errors`): a transient one is
retried with a short backoff, each retry logged with the batch's offsets.
Rows ClickHouse refuses for good are found by halving the batch against
Null-engine copies of the tables; their events become ``unstorable`` dead
letters, the windows are folded again without them, and the batch goes on.
A poison event costs its batch some latency; it never stalls a partition.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from schemas.dead_letters import DeadLetter, DeadLetterCode
from schemas.events import dump_event
from streams.aggregation import (
    Counted,
    FoldResult,
    WindowAggregate,
    WindowKey,
    fold,
    split_position,
    window_keys,
)
from streams.decoding import TimeBounds
from streams.dedup import (
    CountedId,
    DedupIndex,
    Hashes,
    IdColumns,
    IdFilter,
    Seconds,
    batch_id_hashes,
    id_keys,
)
from streams.intake import decode_and_price
from streams.pricing import PriceCatalog
from streams.sinks.errors import RejectedRowsError, SinkConfigError, SinkError, TransientSinkError, classify
from streams.stored_windows import StoredWindows
from streams.window_batch import EventColumns, WindowPlan, fold_plan, plan_windows

log = logging.getLogger(__name__)
T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# An event may say it occurred this far after it was first counted (the
# contract's future bound, 5 minutes, must be within it); see _drop_duplicates.
_FUTURE_SLACK_S = 3600.0


@dataclass(frozen=True, slots=True)
class RawMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None  # the broker's; occurred_at is bounded against it

    @classmethod
    def of(cls, message: Any) -> RawMessage:
        """A Faust message (an event's ``message``) as the processor reads it."""
        stamp = message.timestamp
        return cls(
            message.topic,
            message.partition,
            message.offset,
            message.key,
            message.value,
            None if stamp is None else round(stamp * 1000),
        )


class Sink(Protocol):
    """Where counted events, window snapshots and dead letters are stored."""

    async def write(
        self,
        counted: Sequence[Counted],
        windows: Mapping[WindowKey, WindowAggregate],
        dead_letters: Sequence[Sequence[Any]] = (),
        *,
        columns: EventColumns | None = None,
        meanwhile: Callable[[], object] | None = None,
    ) -> None:
        """``columns``: the processor's read of ``counted`` (``columns.counted is counted``), if any;
        ``meanwhile``: work to do while the ledger's insert is under way (at most once a write)."""

    async def probe(
        self, counted: Sequence[Counted] = (), windows: Mapping[WindowKey, WindowAggregate] | None = None
    ) -> None:
        """Raise as ``write`` would for these rows, storing nothing."""

    async def counted_ids(
        self, pairs: Iterable[tuple[str, str]], meanwhile: Callable[[], object] | None = None
    ) -> dict[tuple[str, str], list[CountedId]]:
        """Where each (customer, event_id) was counted; ``meanwhile``: work to do while the query
        is under way (at most once a call)."""

    async def counted_id_hashes(self, partition: int, since: float) -> tuple[Hashes, Seconds]:
        """The hashes of the ids ``partition`` counted since ``since``, and when."""

    async def load_windows(self, keys: Iterable[WindowKey]) -> dict[WindowKey, WindowAggregate]: ...


class WindowState(Protocol):
    """Durable worker state: window aggregates and, per partition, the event-time
    watermark and the watermark the last expiry ran at."""

    def get(self, key: WindowKey) -> WindowAggregate | None: ...
    def get_many(self, raw_keys: Sequence[bytes]) -> list[WindowAggregate | None]:
        """The windows under these ``WindowKey.encode()`` keys, None where there is none."""

    def stored(self, raw_keys: Sequence[bytes]) -> StoredWindows:
        """:meth:`get_many`'s windows as records, decoded only as read."""

    def put(self, key: WindowKey, agg: WindowAggregate) -> None: ...
    def put_many(
        self, windows: Mapping[WindowKey, WindowAggregate], raw_keys: Sequence[bytes] | None = None
    ) -> None:
        """Each window, ``raw_keys`` (where given) their encoded keys in order."""

    def watermark(self, partition: int) -> int: ...
    def set_watermark(self, partition: int, value: int) -> None: ...
    def expired_through(self, partition: int) -> int: ...
    async def flush(self) -> None: ...


class SpendHook(Protocol):
    """Spend control (:mod:`streams.spend_control`): judges each batch's counted events while they
    are stored, and commits the judgement once they are, before any state of the batch is changelogged."""

    def judge(self, counted: Sequence[Counted], columns: EventColumns | None = None) -> Any: ...
    async def commit(
        self, result: Any, counted: Sequence[Counted], retry: Callable[..., Awaitable[Any]]
    ) -> Any: ...
    def discard(self) -> None: ...


@dataclass
class BatchStats:
    messages: int = 0
    counted: int = 0
    replayed: int = 0
    duplicates: int = 0
    dedup_checked: int = 0  # ids looked up in ClickHouse's event_ids
    dead_letters: int = 0
    windows_written: int = 0
    unstorable: int = 0  # of the dead letters: events ClickHouse refused
    seconds: float = 0.0  # the whole batch
    sink_seconds: float = 0.0  # of which ClickHouse writes
    dead_letter_codes: Counter[DeadLetterCode] = field(default_factory=Counter)


@dataclass
class BatchProcessor:
    catalog: PriceCatalog
    sink: Sink
    state: WindowState
    dedup: DedupIndex
    window_sizes: tuple[int, ...]
    retention: dict[int, int]
    send_dead_letter: Callable[[DeadLetter], Awaitable[None]]
    retry_delay_s: float = 0.5
    retry_delay_max_s: float = 5.0
    # A guard over the client's own timeouts: no ClickHouse call may hang a partition.
    call_timeout_s: float = 60.0
    # How far occurred_at may lie from its message's broker time; None: the contract's bounds only.
    bounds: TimeBounds | None = None
    # Told of every failed ClickHouse call, as classified (the worker's metrics).
    on_sink_error: Callable[[SinkError], None] = lambda error: None
    spend: SpendHook | None = None
    _where: str = field(default="", init=False)  # the batch in flight, for retry logs

    async def process(self, messages: Sequence[RawMessage]) -> BatchStats:
        stats = BatchStats(messages=len(messages))
        started = time.perf_counter()
        self._where = describe_batch(messages)
        priced, dead = self._decode_and_price(messages)
        # Planned while ClickHouse looks the batch's suspect ids up; kept unless the lookup drops some.
        ahead: list[tuple[EventColumns, WindowPlan]] = []

        def plan_ahead(columns: EventColumns) -> None:
            if not ahead:  # once, whatever the lookup's retries
                ahead.append((columns, plan_windows(columns, self.window_sizes)))

        batch = await self._drop_duplicates(priced, stats, plan_ahead)
        counted = batch.counted
        previous = {p: self.state.watermark(p) for p in np.unique(batch.partitions).tolist()}
        plan = ahead[0][1] if ahead and ahead[0][0] is batch else plan_windows(batch, self.window_sizes)
        before = await self._current_windows(plan)
        # The state as objects, for the event-by-event fold, here or after refused rows: most
        # batches never read it.
        current = functools.cache(lambda: _held(plan.keys, before))
        # Whole windows at once where the batch allows; else event by event, as exact.
        result = fold_plan(plan, before) or fold(counted, self.window_sizes, current())

        sink_started = time.perf_counter()
        judged = _Judgement(self.spend, counted, batch)
        try:
            stored, result, refused = await self._store(
                counted, result, current, dead, messages, batch, judged
            )
        except BaseException:
            judged.discard()
            raise
        stats.sink_seconds = time.perf_counter() - sink_started
        stats.counted, stats.replayed = result.folded, result.skipped
        stats.unstorable = len(refused)
        stats.dead_letters = len(dead) + len(refused)
        stats.dead_letter_codes.update(letter.code for letter in [*dead, *refused])
        stats.windows_written = len(result.changed)
        if self.spend is not None:
            await self.spend.commit(judged.of(stored), stored, self._with_retry)
        counted = stored
        self.state.put_many(result.changed, result.raw_keys)
        if len(counted) < len(batch):  # ClickHouse refused some
            batch = EventColumns.of(counted)
        for partition, watermark in self._advance(previous, batch).items():
            self.state.set_watermark(partition, watermark)
        await self.state.flush()
        for letter in [*dead, *refused]:
            await self.send_dead_letter(letter)
        stats.seconds = time.perf_counter() - started
        return stats

    async def _store(
        self,
        counted: Sequence[Counted],
        result: FoldResult,
        current: Callable[[], Mapping[WindowKey, WindowAggregate]],
        dead: Sequence[DeadLetter],
        messages: Sequence[RawMessage],
        columns: EventColumns | None = None,
        meanwhile: Callable[[], object] | None = None,
    ) -> tuple[Sequence[Counted], FoldResult, list[DeadLetter]]:
        """Write the batch; events whose rows ClickHouse refuses become dead letters instead.

        ``columns``: the batch's read of ``counted``, whose columns the sink takes as they are;
        ``meanwhile``: work for the sink to do while the ledger's insert is under way."""
        refused: list[DeadLetter] = []
        unexplained = 0
        while True:
            letters = [d.row() for d in [*dead, *refused]]
            write = functools.partial(
                self.sink.write, counted, result.changed, letters, columns=columns, meanwhile=meanwhile
            )
            try:
                await self._with_retry(write)
                return counted, result, refused
            except RejectedRowsError as exc:
                poison = await self._refused_events(counted, result, exc)
                if not poison:
                    # The probe copies took every row the tables refused, so they
                    # differ (a constraint added by hand?): not the events' fault.
                    unexplained += 1
                    await self._wait_for_operator(f"write: {exc} (the *_probe tables accept it)", unexplained)
                    continue
            topic = messages[0].topic
            now = datetime.now(UTC)
            refused += [_unstorable(topic, item, reason, now) for item, reason in poison]
            dropped = {(p, pos) for (p, pos, _), _ in poison}
            counted = [c for c in counted if (c[0], c[1]) not in dropped]
            columns = None  # of the events before
            result = fold(counted, self.window_sizes, current())

    async def _refused_events(
        self, counted: Sequence[Counted], result: FoldResult, exc: RejectedRowsError
    ) -> list[tuple[Counted, str]]:
        """The events to blame for ``exc``: first their ledger rows, then their windows."""
        log.warning("ClickHouse refused rows of %s (%s); finding which", self._where, exc)
        poison = await _refused(counted, lambda part: self._probe(counted=part))
        if poison:
            return poison
        windows = result.changed
        bad = await _refused(list(windows), lambda part: self._probe(windows={k: windows[k] for k in part}))
        reasons = dict(bad)
        blamed = []
        for item in counted:
            hit = next((k for k in window_keys(item[2], self.window_sizes) if k in reasons), None)
            if hit is not None:
                blamed.append((item, f"window {hit.category}@{hit.start}: {reasons[hit]}"))
        return blamed

    async def _probe(
        self, counted: Sequence[Counted] = (), windows: Mapping[WindowKey, WindowAggregate] | None = None
    ) -> None:
        await self._with_retry(functools.partial(self.sink.probe, counted, windows), "probe")

    def _decode_and_price(self, messages: Sequence[RawMessage]) -> tuple[Sequence[Counted], list[DeadLetter]]:
        """Every counted event of ``messages`` and the dead letters; the counted events carry
        their columns, which :meth:`EventColumns.of` then takes as they are (:mod:`streams.intake`)."""
        return decode_and_price(messages, self.catalog, self.bounds, datetime.now(UTC))

    async def _drop_duplicates(
        self,
        priced: Sequence[Counted],
        stats: BatchStats,
        meanwhile: Callable[[EventColumns], object] | None = None,
    ) -> EventColumns:
        """Each (customer, event_id) once: the first version within the horizon wins.

        Repeats within the batch are caught here. An event is then a
        duplicate if ``event_ids`` holds its id at an earlier position (a
        row at its own position is this event, written by an attempt that
        died before committing) and that row was counted within the horizon,
        or has the same ``occurred_at``: the ledger is keyed by (customer,
        occurred_at, event_id) and would fold such a repeat into the first
        row at any age, while the windows counted it again.

        Only suspects are looked up, in one query: ids the partition's filter
        may have seen, and events old enough (``occurred_at`` a horizon ago,
        give or take the future slack) that their first version may have
        left the filter.

        The batch's columns are read here once, for every later stage. ``meanwhile``: work on the
        batch's columns before the lookup's answer drops any, done while ClickHouse looks them up.
        """
        batch, hashes = first_ids(EventColumns.of(priced), stats)
        if not len(batch):
            return batch
        now = self.dedup.clock()
        partitions = batch.partitions
        suspects = batch.seconds < now - self.dedup.horizon_s + _FUTURE_SLACK_S
        filters: dict[int, IdFilter] = {}
        for partition in np.unique(partitions).tolist():
            filters[partition] = await self._filter(partition)
            chosen = partitions == partition
            suspects[chosen] |= filters[partition].might_contain(hashes[chosen])

        counted = np.ones(len(batch), dtype=np.bool_)
        checked = np.flatnonzero(suspects).tolist()
        stats.dedup_checked = len(checked)
        if checked:
            asked = _ids_of(batch, checked)
            ahead = functools.partial(meanwhile, batch) if meanwhile is not None else None
            found = await self._with_retry(lambda: self.sink.counted_ids(asked, ahead), "read of counted ids")
            for i in _repeats(batch, asked, checked, found, now - self.dedup.horizon_s):
                counted[i] = False
                stats.duplicates += 1
        for partition, ids in filters.items():
            ids.add(hashes[(partitions == partition) & counted], at=now)
        return batch.select(counted)

    async def _filter(self, partition: int) -> IdFilter:
        """The partition's id filter, rebuilt from ClickHouse the first time after an assignment."""
        ids = self.dedup.get(partition)
        if ids is None:
            started = time.perf_counter()
            since = self.dedup.clock() - self.dedup.horizon_s
            hashes, at = await self._with_retry(
                lambda: self.sink.counted_id_hashes(partition, since), "read of counted id hashes"
            )
            ids = self.dedup.install(partition, hashes, at)
            log.info(
                "partition %d: dedup filter rebuilt from %d ids counted in the last %.0f h, "
                "%.1f MB, in %.0f ms",
                partition,
                len(hashes),
                self.dedup.horizon_s / 3600,
                ids.nbytes / 1e6,
                (time.perf_counter() - started) * 1000,
            )
        return ids

    @staticmethod
    def _advance(watermarks: dict[int, int], batch: EventColumns) -> dict[int, int]:
        """Each partition's highest event time, including this batch."""
        return batch.watermarks(watermarks)

    async def _current_windows(self, plan: WindowPlan) -> StoredWindows:
        """State before the batch of every window it touches, in the plan's order.

        A window missing from worker state is new, or was expired from it
        (see :meth:`streams.window_state.TableState.expire`) and is now hit by a late event. Only
        the latter can have a snapshot in ClickHouse, and only a window past
        its retention at the watermark the last expiry ran at can have been
        expired (:func:`streams.aggregation.is_expired`, here for all windows at once, each
        against its first event's partition), so only those are looked up.
        """
        current = self.state.stored(plan.raw_keys)
        missing = current.missing()  # in C, no window decoded
        if not missing.any():
            return current
        kept = np.zeros(len(current), np.int64)  # each window's retention
        through = np.zeros(len(current), np.int64)  # its partition's last expiry
        for size in np.unique(plan.sizes).tolist():
            kept[plan.sizes == size] = self.retention.get(size, 0)
        for partition in np.unique(plan.first_partitions[missing]).tolist():
            through[plan.first_partitions == partition] = self.state.expired_through(partition)
        expired = np.flatnonzero(missing & (plan.ends + kept < through)).tolist()
        if expired:
            keys = {i: plan.key_columns.key(i) for i in expired}  # made alone: most windows need none
            load = functools.partial(self.sink.load_windows, list(keys.values()))
            found = await self._with_retry(load, "read of expired windows")
            for i in expired:
                current.load(i, found.get(keys[i]))
        return current

    async def _with_retry(self, call: Callable[[], Awaitable[T]], what: str = "write") -> T:
        """Run a ClickHouse call; retry what can pass, raise :class:`RejectedRowsError`.

        ClickHouse being away pauses the stream; it never drops a batch.
        """
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(self.call_timeout_s):
                    return await call()
            except Exception as exc:
                kind = classify(exc)
                if kind is None:
                    raise
                self.on_sink_error(kind)
                if isinstance(kind, RejectedRowsError):
                    raise kind from exc
                attempt += 1
                if isinstance(kind, SinkConfigError):
                    await self._wait_for_operator(f"{what}: {kind}", attempt)
                    continue
                assert isinstance(kind, TransientSinkError)
                delay = self._delay(attempt)
                log.warning(
                    "ClickHouse %s for %s failed (%s: %s); retry %d in %.1fs",
                    what, self._where, type(exc).__name__, kind, attempt, delay,
                )  # fmt: skip
                await asyncio.sleep(delay)

    async def _wait_for_operator(self, problem: str, attempt: int) -> None:
        delay = self._delay(attempt)
        log.error(
            "ClickHouse refuses %s for %s; the stream waits until this is fixed; retry %d in %.1fs",
            problem, self._where, attempt, delay,
        )  # fmt: skip
        await asyncio.sleep(delay)

    def _delay(self, attempt: int) -> float:
        return float(min(self.retry_delay_s * 2 ** (attempt - 1), self.retry_delay_max_s))


async def _refused(
    items: Sequence[T], attempt: Callable[[Sequence[T]], Awaitable[None]]
) -> list[tuple[T, str]]:
    """The items refused even alone, each with the server's reason, found by halving."""
    try:
        await attempt(items)
        return []
    except RejectedRowsError as exc:
        if len(items) == 1:
            return [(items[0], str(exc))]
    middle = len(items) // 2
    return [*await _refused(items[:middle], attempt), *await _refused(items[middle:], attempt)]


def first_ids(batch: EventColumns, stats: BatchStats) -> tuple[EventColumns, Hashes]:
    """``batch`` without later repeats of an id (counted as duplicates), and each event's id hash.
    Natively, the ids' keys are made only for a batch with a hash twice (the keys decide); the
    reference hashes every key."""
    hashes, distinct, keys = batch_id_hashes(batch.customers, batch.event_ids)
    if distinct:
        return batch, hashes
    if keys is None:
        keys = id_keys(batch.customers, batch.event_ids)
    first = _first_in_batch(keys, stats)
    if first is None:  # equal hashes of different ids
        return batch, hashes
    return batch.select(first), hashes[first]


def _ids_of(batch: EventColumns, rows: list[int]) -> IdColumns:
    """The (customer, event_id) of ``batch``'s ``rows``, as the batch's own columns where all are."""
    customers, event_ids = batch.customers, batch.event_ids
    if len(rows) == len(batch):
        return IdColumns(customers, event_ids)
    return IdColumns([customers[i] for i in rows], [event_ids[i] for i in rows])


def _first_in_batch(keys: Sequence[bytes], stats: BatchStats) -> npt.NDArray[np.bool_] | None:
    """Which events are the first of their (customer, event_id) in the batch (:func:`id_key`
    of each in ``keys``); later repeats are counted as duplicates. None: all are."""
    if len(set(keys)) == len(keys):
        return None
    first = np.ones(len(keys), np.bool_)
    seen: set[bytes] = set()
    for i, key in enumerate(keys):
        if key in seen:
            stats.duplicates += 1
            first[i] = False
        seen.add(key)
    return first


def _repeats(
    batch: EventColumns,
    asked: IdColumns,
    checked: list[int],
    found: dict[tuple[str, str], list[CountedId]],
    since: float,
) -> list[int]:
    """The events (``checked[j]`` in ``batch``, its ids ``asked[j]``) ``found`` shows counted before.

    Only ids ``event_ids`` holds are looked at: the suspects of a backfill
    of old events are nearly all found nowhere.
    """
    if not found:
        return []
    where = dict(zip(asked, checked, strict=True))
    repeats = []
    for pair, earlier in found.items():
        i = where.get(pair)
        if i is None or not earlier:
            continue
        partition, pos, item = batch.counted[i]
        occurred_us = _micros(item.event.occurred_at)
        if any(_counted_before(c, partition, pos, since, occurred_us) for c in earlier):
            repeats.append(i)
    return repeats


def _held(keys: Sequence[WindowKey], stored: StoredWindows) -> dict[WindowKey, WindowAggregate]:
    """Each window that has state, and its state."""
    return {key: window for key, window in zip(keys, stored, strict=True) if window is not None}


def describe_batch(messages: Sequence[RawMessage]) -> str:
    """``topic[partition]@first-last`` per partition, for logs."""
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    for m in messages:
        low, high = spans.get((m.topic, m.partition), (m.offset, m.offset))
        spans[(m.topic, m.partition)] = (min(low, m.offset), max(high, m.offset))
    return "batch " + ", ".join(f"{t}[{p}]@{lo}-{hi}" for (t, p), (lo, hi) in sorted(spans.items()))


def _unstorable(topic: str, item: Counted, reason: str, now: datetime) -> DeadLetter:
    partition, pos, priced = item
    offset, index = split_position(pos)
    event = priced.event
    return DeadLetter(
        DeadLetterCode.UNSTORABLE,
        f"ClickHouse refused this event's rows: {reason}",
        topic, partition, offset, event.customer_id.encode(), dump_event(event), now, index,
    )  # fmt: skip


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


def _counted_before(counted: CountedId, partition: int, pos: int, since: float, occurred_us: int) -> bool:
    """Does this earlier counting of an id make the event at (partition, pos) a repeat?

    A customer's events are all on one partition, so a row on another one
    (the topic was repartitioned) is from before.
    """
    earlier = counted.partition != partition or counted.position < pos
    return earlier and (counted.counted_at >= since or counted.occurred_at_us == occurred_us)


class _Judgement:
    """Spend control's judgement of a batch, made while ClickHouse stores the batch.

    The rules take about a third of a batch's CPU and the ledger's insert keeps the worker
    waiting about as long: judged in that wait (the sink calls :meth:`__call__` once the
    ledger's rows are on their way), the two overlap. Judged once, whatever the sink retries;
    a batch ClickHouse stored only in part is judged again on what it stored.
    """

    def __init__(self, spend: SpendHook | None, counted: Sequence[Counted], columns: EventColumns) -> None:
        self.spend, self.counted, self.columns = spend, counted, columns
        self.result: Any = None
        self.error: BaseException | None = None
        self.judged = False

    def __call__(self) -> None:
        if self.spend is None or self.judged:
            return
        self.judged = True
        try:
            self.result = self.spend.judge(self.counted, self.columns)
        except Exception as exc:  # the rules' failure, not the sink's: raised by of(), outside its retries
            self.error = exc

    def of(self, stored: Sequence[Counted]) -> Any:
        """The judgement of ``stored``, the events ClickHouse took."""
        assert self.spend is not None
        if stored is not self.counted:  # some refused: the rules must not count them
            self.discard()
            return self.spend.judge(stored, None)
        self()  # a sink that had no wait to fill
        if self.error is not None:
            raise self.error
        return self.result

    def discard(self) -> None:
        if self.spend is not None and self.judged:
            self.spend.discard()
            self.judged = False
