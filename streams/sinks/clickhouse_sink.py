"""The worker's ClickHouse: batched writes of ledger rows, window snapshots
and dead letters, and the reads it needs back (counted ids, window snapshots).

The worker calls :meth:`ClickHouseSink.write` once per batch, before it
acknowledges the batch's offsets: a batch is either in ClickHouse or will
be replayed. The tables are ReplacingMergeTree keyed so that writing a
replayed batch again replaces rows with identical ones, which is also why
a batch may go in as several inserts (:func:`insert_chunks`).

When ClickHouse refuses rows for good, the processor finds which by halving
the batch against :meth:`ClickHouseSink.probe`: it inserts into
``<table>_probe``, a copy of the table with the Null engine, which checks
types and constraints and stores nothing.

Window columns and rows come from :class:`streams.aggregation.WindowAggregate`'s
fields; the ledger's are listed here. (``costline.clickhouse`` is the client
every package shares; this module is the worker's use of it.)
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from operator import attrgetter, itemgetter
from string import Template
from typing import Any, TypeVar, overload

import lz4.frame
import numpy as np
from clickhouse_connect.driver.asyncclient import AsyncClient
from clickhouse_connect.driver.external import ExternalData

from costline.clickhouse import read_query
from schemas.events import MEDIA_TOKENS, Correction, LlmCall
from streams.aggregation import (
    AGGREGATE_COLUMNS,
    KEY_COLUMNS,
    PICO_COLUMNS,
    Counted,
    WindowAggregate,
    WindowKey,
    position,
    split_position,
)
from streams.dedup import CountedId, Hashes, IdColumns, Seconds
from streams.pricing import PricedEvent
from streams.sinks import ledger_stored, native_block
from streams.sinks.column_types import TableTypes, datetime_ticks
from streams.sinks.table_columns import (
    LEDGER_STORED_TYPES,
    LEDGER_TYPES,
    LOW_CARDINALITY_GROUP,
    STORED_PRICE_GROUP,
    WINDOW_TYPES,
    Columns,
    ledger_columns,
    price_group,
    window_change_columns,
    window_columns,
)
from streams.window_batch import Coded, CountedBatch, EventColumns
from streams.window_changes import WindowChanges, WindowRows

log = logging.getLogger(__name__)

LEDGER_COLUMNS = (
    "event_id_sent",  # stored as a UUID when it is one (sql/ddl/015_ledger_layout.sql)
    "occurred_at",
    "customer_id",
    "agent_id",
    "user_id",
    "task_id",
    "request_id",
    "kind_sent",  # a price's five columns stored as one key (sql/ddl/025_ledger_price_key_pico_cost.sql)
    "provider_sent",
    "sku_sent",
    "model_sent",
    "unit_sent",
    "quantity_sent",  # stored as what the tokens leave of it (025)
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "batch",
    "cost_sent",  # stored as Int64 pico-dollars where it fits (025)
    "currency",
    "price_version_sent",
    "outcome_type",
    "outcome_value",
    "success",
    "attributes",
    "source_partition",
    "source_offset",
    "source_index",
    "ingested_at_sent",  # stored as a lag after occurred_at (sql/ddl/023_ledger_ingested_lag.sql)
    "service_tier",
    "corrects",
    "reprice_run",
    *MEDIA_TOKENS,
)

# Derived from the window model: a new counter needs no edit here.
WINDOW_COLUMNS = (*KEY_COLUMNS, *AGGREGATE_COLUMNS, "updated_at")

DEAD_LETTER_COLUMNS = (
    "failed_at",
    "error_code",
    "reason",
    "source_topic",
    "source_partition",
    "source_offset",
    "message_key",
    "payload",
    "source_index",
)

# ClickHouse refuses an INSERT block that spans more than 100 partitions
# (max_partitions_per_insert_block); the ledger and windows are monthly.
MAX_MONTHS_PER_INSERT = 90
MAX_ROWS_PER_INSERT = 100_000
PROBED_TABLES = ("ledger", "cost_windows")
# Rows a Native block: a block's columns are built while its events are still in the CPU's
# cache, a third cheaper than a 10,000-event batch at once (bench/ledger_sink.py).
BLOCK_ROWS = 1_000

# Its SELECT list is the window model's columns, in field order.
WINDOW_SNAPSHOTS = Template(read_query("window_snapshots")).substitute(
    aggregate_columns=", ".join(AGGREGATE_COLUMNS)
)
_COUNTED_EVENT_IDS = read_query("counted_event_ids")
_EVENT_ID_HASHES = read_query("event_id_hashes")
T = TypeVar("T")
_HASH_ROW = np.dtype([("id_hash", "<u8"), ("counted_at", "<u4")])  # RowBinary of event_id_hashes.sql


# An event's audio and image counts, in MEDIA_TOKENS order (TokenUsage names them without "_tokens").
_media_tokens = attrgetter(*(name.removesuffix("_tokens") for name in MEDIA_TOKENS))


def ledger_row(partition: int, pos: int, priced: PricedEvent, now: datetime) -> list[Any]:
    event = priced.event
    tokens = priced.tokens
    is_outcome = event.kind == "outcome"
    # Exact classes (the contract's kinds are not subclassed): a third of isinstance's cost.
    llm = event if type(event) is LlmCall else None
    # A correction's row stands under the corrected event's kind, linked to it.
    correction = event if type(event) is Correction else None
    tier = llm.tier if llm is not None else None
    return [
        event.event_id,
        event.occurred_at,
        event.customer_id,
        event.agent_id,
        event.user_id or "",
        event.task_id or "",
        event.request_id or "",
        priced.category,
        priced.provider,
        priced.sku,
        priced.model_sent,
        priced.unit,
        priced.quantity,
        tokens.input,
        tokens.cached_input,
        tokens.cache_write,
        tokens.output,
        tokens.reasoning,
        llm is not None and llm.batch,
        priced.cost,
        "USD",
        priced.price_version,
        event.outcome_type if is_outcome else "",  # type: ignore[union-attr]
        event.value if is_outcome else None,  # type: ignore[union-attr]
        event.success if is_outcome else True,  # type: ignore[union-attr]
        event.attributes,
        partition,
        *split_position(pos),
        now,
        tier or "",
        correction.corrects if correction is not None else "",
        correction.run_id if correction is not None else "",
        *_media_tokens(tokens),
    ]


def candidates_block(ids: IdColumns) -> bytes:
    """The ids as a Native block of two String columns, ``customer_id`` and ``event_id``.

    ClickHouse reads a Native block's strings as they are, where text rows are parsed and
    unescaped: half the server's CPU for a backfill batch's 100k candidates (0.06 -> 0.03 s),
    and the worker makes no joined key or row for an id (bench/RESULTS.md, session 23).
    """
    columns = [
        ("customer_id", "String", native_block.strings(ids.customers)),
        ("event_id", "String", native_block.strings(ids.event_ids)),
    ]
    return native_block.block(columns, len(ids))


def window_row(key: WindowKey, agg: WindowAggregate, now: datetime) -> list[Any]:
    """A ``cost_windows`` row, in :data:`WINDOW_COLUMNS` order."""
    start = datetime.fromtimestamp(key.start, UTC)
    return [key.customer_id, key.agent_id, key.category, key.size, start, *agg.values(), now]


def insert_chunks(rows: Sequence[T], month_of: Callable[[T], datetime] | None) -> Iterator[Sequence[T]]:
    """``rows`` cut so that no insert spans too many monthly partitions or rows."""
    if month_of is None:
        for start in range(0, len(rows), MAX_ROWS_PER_INSERT):
            yield rows[start : start + MAX_ROWS_PER_INSERT]
        return
    if len(rows) <= MAX_ROWS_PER_INSERT and rows:
        first, last = min(map(month_of, rows)), max(map(month_of, rows))
        if (last.year - first.year) * 12 + last.month - first.month < MAX_MONTHS_PER_INSERT:
            yield rows  # the common case, without grouping every row by month
            return
    by_month: dict[tuple[int, int], list[T]] = {}
    for row in rows:
        at = month_of(row)
        by_month.setdefault((at.year, at.month), []).append(row)
    if len(by_month) <= MAX_MONTHS_PER_INSERT and len(rows) <= MAX_ROWS_PER_INSERT:
        yield rows  # the common case: one batch, one or two months
        return
    chunk: list[T] = []
    months: set[tuple[int, int]] = set()
    for month in sorted(by_month):
        for row in by_month[month]:
            full = len(chunk) == MAX_ROWS_PER_INSERT
            if full or (month not in months and len(months) == MAX_MONTHS_PER_INSERT):
                yield chunk
                chunk, months = [], set()
            chunk.append(row)
            months.add(month)
    if chunk:
        yield chunk


_MONTH_OF: dict[str, Callable[[Sequence[Any]], datetime] | None] = {
    "ledger": lambda row: row[1],  # occurred_at
    "cost_windows": itemgetter(WINDOW_COLUMNS.index("window_start")),
    "dead_letters": None,
}
_PICO = {"cost_windows": PICO_COLUMNS}  # columns written from pico-dollar ints
_COLUMNS = {"ledger": LEDGER_COLUMNS, "cost_windows": WINDOW_COLUMNS, "dead_letters": DEAD_LETTER_COLUMNS}


def _months_apart(first: datetime, last: datetime) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def _span(ticks: Any, per_second: int) -> tuple[datetime, datetime]:
    """The first and last time of a column of ``ticks``, ``per_second`` a second."""
    first, last = (
        (int(ticks.min()), int(ticks.max())) if isinstance(ticks, np.ndarray) else (min(ticks), max(ticks))
    )
    return datetime.fromtimestamp(first // per_second, UTC), datetime.fromtimestamp(last // per_second, UTC)


def _occurred_at(item: Counted) -> datetime:
    return item[2].event.occurred_at


def _window_start(item: tuple[WindowKey, WindowAggregate]) -> datetime:
    return datetime.fromtimestamp(item[0].start, UTC)


# The column a row's month is in, its ticks a second, and the month of a row.
Partitioned = tuple[str, int, Callable[[T], datetime]]
_BY_OCCURRED_AT: Partitioned[Counted] = ("occurred_at", 1_000_000, _occurred_at)
_BY_WINDOW_START: Partitioned[tuple[WindowKey, WindowAggregate]] = ("window_start", 1, _window_start)


class _Views(Sequence[Counted]):
    """A batch whose slices are views (:meth:`CountedBatch.view`), its objects made only if read."""

    def __init__(self, batch: CountedBatch) -> None:
        self.batch = batch

    def __len__(self) -> int:
        return len(self.batch)

    @overload
    def __getitem__(self, index: int) -> Counted: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Counted]: ...
    def __getitem__(self, index: int | slice) -> Counted | Sequence[Counted]:
        if isinstance(index, slice) and index.step is None:
            return self.batch.view(index)
        return self.batch[index]


async def _nothing() -> None:
    pass


def _settled(task: asyncio.Future[Any]) -> None:
    """Take a task's outcome, which an error raised meanwhile replaces (no "never retrieved" log)."""
    if not task.cancelled():
        task.exception()


# Every block the sink writes holds one row a key of its table's engine (a batch's repeats are
# dropped before it is written, a window is one row, meter_days' view groups its block), so
# ClickHouse's merge of the block on insert (``optimize_on_insert``) finds nothing to fold and only
# costs: without it, ClickHouse's CPU per 1M events went from ~7.9 to ~6.8 (bench/RESULTS.md,
# session 18). Rows it would have folded (none expected) are folded by background merges and FINAL.
INSERT_SETTINGS: dict[str, Any] = {"optimize_on_insert": 0}
# aiohttp's in-memory request bodies go out a chunk a turn of the event loop (BytesIOPayload);
# a request's head, connection and form take a few turns more.
_SENT_A_TURN = 2**16
_TURNS_TO_SEND_A_HEAD = 8


def _lz4_frames(bodies: list[bytes]) -> list[bytes]:
    return [lz4.frame.compress(body) for body in bodies]


def _written(columns: Columns, types: Mapping[str, str]) -> list[bytes]:
    """Each column in Native form, in ``types``' order; the ledger's price columns as a group."""
    grouped = {}
    for names in (LOW_CARDINALITY_GROUP, STORED_PRICE_GROUP):
        if names[0] in types:
            grouped = dict(zip(names, price_group(columns, names), strict=True))
    return [
        grouped[name] if name in grouped else written_column(kind, columns[name])
        for name, kind in types.items()
    ]


def written_column(kind: str, values: Any) -> bytes:
    """A column of ``kind`` in Native form; a LowCardinality column held as codes
    (:class:`streams.window_batch.Coded`) from its codes, no row read as a str."""
    if type(values) is Coded and kind == "LowCardinality(String)":
        return native_block.low_cardinality_codes(values.codes, values.values)
    return native_block.WRITERS[kind](values)


class ClickHouseSink:
    """``native``: write the ledger and windows as hand-built Native blocks
    (:mod:`streams.sinks.native_block`) while the tables have the types it
    writes; otherwise, or when False, through clickhouse-connect's insert."""

    def __init__(self, client: AsyncClient, native: bool = True) -> None:
        self.client = client
        self.native = native
        # LZ4 pays even on loopback: compressing a block costs the worker less CPU than
        # handing the socket 3-4x the bytes (bench/ledger_sink.py: native vs native_lz4).
        self.compression: str | None = "lz4"
        self._types = TableTypes(client)
        self._probes_ready = False
        self._slow_tables: set[str] = set()

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
        ``meanwhile``: work to do while the ledger's insert is under way, once its rows are sent."""
        now = datetime.now(UTC)
        # The windows' rows are encoded while the ledger's insert is under way, and sent once it
        # succeeded, never beside it: a window stored with an event whose ledger row is refused
        # could outlive its rewrite without that event (ReplacingMergeTree keeps the higher
        # version, and the rewrite's may be lower).
        ledger = asyncio.ensure_future(self.write_ledger(counted, now, columns=columns))
        try:
            await asyncio.sleep(0)  # the ledger's rows encoded and on their way first
            send_windows = await self._windows_insert(windows, now, "")
            if meanwhile is not None and not ledger.done():
                meanwhile()
        except BaseException:
            ledger.cancel()  # no insert outlives the write that made it
            ledger.add_done_callback(_settled)
            raise
        await ledger
        await send_windows()
        await self.insert("dead_letters", dead_letters)

    async def write_ledger(
        self, counted: Sequence[Counted], now: datetime, suffix: str = "", columns: EventColumns | None = None
    ) -> None:
        if not counted:
            return
        if columns is not None and columns.counted is not counted:
            columns = None  # of other events (a list made again): reading the events is always right
        # Cut into blocks without making the events' objects: the columns have every row.
        rows = _Views(counted) if type(counted) is CountedBatch and columns is not None else counted

        def columns_of(part: Sequence[Counted], where: slice | None) -> Columns:
            batch = None if where is None else columns
            return ledger_columns(part, now, batch, where or slice(None))

        def stored_of(part: Sequence[Counted], where: slice | None) -> Columns:
            return ledger_stored.stored(columns_of(part, where), now)

        types: Mapping[str, str] | None = None
        bodies: list[bytes] = []
        if await self._writes_natively("ledger", suffix, LEDGER_STORED_TYPES, quietly=True):
            # The stored columns themselves: the server's DEFAULTs have nothing left to evaluate.
            try:
                bodies = await self._native_bodies(LEDGER_STORED_TYPES, rows, stored_of, _BY_OCCURRED_AT)
                types = LEDGER_STORED_TYPES
            except ledger_stored.NotDerived:  # an id in no canonical form: the server derives the batch's
                pass
        if types is None and await self._writes_natively("ledger", suffix, LEDGER_TYPES):
            bodies = await self._native_bodies(LEDGER_TYPES, rows, columns_of, _BY_OCCURRED_AT)
            types = LEDGER_TYPES
        if types is not None:
            # Packed here and now: the insert under way sooner is worth more than the CPU packing takes
            # (the rules are judged meanwhile, once it is sent).
            await self._send_native("ledger" + suffix, types, self._packed(bodies, in_thread=False))
        else:
            await self.insert("ledger", [ledger_row(p, o, priced, now) for p, o, priced in counted], suffix)

    async def write_windows(
        self, windows: Mapping[WindowKey, WindowAggregate], now: datetime, suffix: str = ""
    ) -> None:
        await (await self._windows_insert(windows, now, suffix))()

    async def _windows_insert(
        self, windows: Mapping[WindowKey, WindowAggregate], now: datetime, suffix: str
    ) -> Callable[[], Awaitable[None]]:
        """``windows`` encoded, and the call that inserts them."""
        if not windows:
            return _nothing
        if await self._writes_natively("cost_windows", suffix, WINDOW_TYPES):

            def columns_of(part: Sequence[tuple[WindowKey, WindowAggregate]], _: slice | None) -> Columns:
                if type(part) is WindowRows:
                    return window_change_columns(part, now)
                return window_columns(part, now)

            # Windows as columns are cut into blocks without making their aggregates.
            rows = windows.rows() if type(windows) is WindowChanges else list(windows.items())
            # A pause a block, for the ledger's insert in flight meanwhile.
            bodies = await self._native_bodies(WINDOW_TYPES, rows, columns_of, _BY_WINDOW_START, pause=True)
            # Packed while the rules judge the batch, sent once the ledger's insert succeeded.
            packed = self._packed(bodies, in_thread=True)
            packed.add_done_callback(_settled)  # a write that fails before sending never reads it
            return functools.partial(self._send_native, "cost_windows" + suffix, WINDOW_TYPES, packed)
        values = [window_row(k, a, now) for k, a in windows.items()]
        return functools.partial(self.insert, "cost_windows", values, suffix)

    async def _writes_natively(
        self, table: str, suffix: str, types: Mapping[str, str], quietly: bool = False
    ) -> bool:
        """Does the server describe ``table`` with exactly the types the Native writers write?
        ``quietly``: a layout the sink has another for, so no warning if not."""
        if not self.native:
            return False
        # Described as insert() describes it, so that either finds the other's types in the cache.
        names = _COLUMNS[table] if table in _COLUMNS and set(types) == set(_COLUMNS[table]) else tuple(types)
        try:
            described = await self._types.get(table + suffix, names, _PICO.get(table, frozenset()))
        except Exception:
            if quietly:  # a column the table lacks (a layout before 025): the other layout is tried
                return False
            raise
        found = [t.name for t in described]
        if found == [types[name] for name in names]:
            return True
        if quietly:
            return False
        if table not in self._slow_tables:
            # Correct either way, but several times the CPU: say so once, for whoever reads a profile.
            self._slow_tables.add(table)
            differ = ", ".join(f"{n} {t}" for n, t in zip(names, found, strict=False) if types[n] != t)
            log.warning(
                "%s has other column types than the Native writers know (%s); "
                "writing it through clickhouse-connect's insert",
                table + suffix,
                differ,
            )
        return False

    async def _native_bodies(
        self,
        types: Mapping[str, str],
        rows: Sequence[T],
        columns_of: Callable[[Sequence[T], slice | None], Columns],
        partitioned: Partitioned[T] | None,
        pause: bool = False,
    ) -> list[bytes]:
        """``rows`` as the bodies of inserts of Native blocks of :data:`BLOCK_ROWS` (the server
        joins an insert's blocks into one part): one body, or as :func:`insert_chunks` cuts
        them when they span too many months. ``columns_of``: a block's columns, from its rows
        and where they are in ``rows`` (None: in other rows). ``partitioned``: None for rows
        :func:`insert_chunks` cut already. ``pause``: let the event loop run between blocks."""
        blocks: list[bytes] = []
        first, last = [], []
        for start in range(0, len(rows), BLOCK_ROWS):
            where = slice(start, start + BLOCK_ROWS)
            part = rows[where]
            columns = columns_of(part, where if partitioned is not None else None)
            if partitioned is not None:
                earliest, latest = _span(columns[partitioned[0]], partitioned[1])
                first.append(earliest)
                last.append(latest)
            data = [
                (name, kind, written)
                for (name, kind), written in zip(types.items(), _written(columns, types), strict=True)
            ]
            blocks.append(native_block.block(data, len(part)))
            if pause:
                await asyncio.sleep(0)
        if partitioned and _months_apart(min(first), max(last)) >= MAX_MONTHS_PER_INSERT:
            return [  # a batch spanning years: rare
                body
                for chunk in insert_chunks(rows, partitioned[2])
                for body in await self._native_bodies(types, chunk, columns_of, None, pause)
            ]
        # More rows than an insert takes (a batch of many-event messages): the blocks already
        # built, a run of them an insert. Cutting the rows instead would build each row's event
        # object to find its month, and encode every block again (2.3 times the worker's CPU).
        per_insert = max(1, MAX_ROWS_PER_INSERT // BLOCK_ROWS)
        bodies = [b"".join(blocks[i : i + per_insert]) for i in range(0, len(blocks), per_insert)] or [b""]
        return bodies

    def _packed(self, bodies: list[bytes], in_thread: bool) -> asyncio.Future[list[bytes]]:
        """``bodies`` as the inserts send them: LZ4 frames. ``in_thread``: compressed in a thread of
        the loop's executor; LZ4 lets go of the GIL, so the loop's thread goes on with the batch
        meanwhile (the rules' judgement, on the other core)."""
        if self.compression == "lz4" and in_thread:
            return asyncio.ensure_future(asyncio.to_thread(_lz4_frames, bodies))
        done: asyncio.Future[list[bytes]] = asyncio.get_running_loop().create_future()
        done.set_result(_lz4_frames(bodies) if self.compression == "lz4" else bodies)
        return done

    async def _send_native(
        self, table: str, types: Mapping[str, str], packed: Awaitable[list[bytes]]
    ) -> None:
        for body in await packed:
            try:
                await self.client.raw_insert(
                    table,
                    list(types),
                    insert_block=body,
                    fmt="Native",
                    compression=self.compression,
                    settings=INSERT_SETTINGS,
                )
            except Exception:
                self._types.forget(table)  # the next write describes the table again
                raise

    async def insert(self, table: str, rows: Sequence[Sequence[Any]], suffix: str = "") -> None:
        """Rows in column form, with the table's own column types (:mod:`streams.sinks.column_types`)."""
        names = _COLUMNS[table]
        for chunk in insert_chunks(rows, _MONTH_OF[table]) if rows else ():
            types = await self._types.get(table + suffix, names, _PICO.get(table, frozenset()))
            transposed = zip(*chunk, strict=True)  # every row has every column
            columns = [datetime_ticks(t, column) for t, column in zip(types, transposed, strict=True)]
            try:
                await self.client.insert(
                    table + suffix,
                    columns,
                    column_names=names,
                    column_types=types,
                    column_oriented=True,
                    settings=INSERT_SETTINGS,
                )
            except Exception:
                self._types.forget(table + suffix)  # a retry describes the table again
                raise

    async def probe(
        self, counted: Sequence[Counted] = (), windows: Mapping[WindowKey, WindowAggregate] | None = None
    ) -> None:
        """Insert into the tables' Null-engine copies: raises as the tables would, stores nothing."""
        if not self._probes_ready:
            # Made again once per process, so the copies follow migrations.
            for name in PROBED_TABLES:
                await self.client.command(f"CREATE OR REPLACE TABLE {name}_probe AS {name} ENGINE = Null")
            self._probes_ready = True
        now = datetime.now(UTC)
        await self.write_ledger(counted, now, "_probe")
        await self.write_windows(windows or {}, now, "_probe")

    async def counted_ids(
        self, pairs: Iterable[tuple[str, str]], meanwhile: Callable[[], object] | None = None
    ) -> dict[tuple[str, str], list[CountedId]]:
        """Where each (customer, event_id) was counted, as far back as ``event_ids`` keeps; one query.
        ``meanwhile``: work to do once the query is sent, while ClickHouse answers."""
        ids = pairs if isinstance(pairs, IdColumns) else IdColumns.of(pairs)
        if not ids:
            if meanwhile is not None:
                meanwhile()
            return {}
        data = candidates_block(ids)
        candidates = ExternalData(
            file_name="candidates",
            data=data,
            fmt="Native",
            structure=["customer_id String", "event_id String"],
        )
        query = asyncio.ensure_future(self.client.query(_COUNTED_EVENT_IDS, external_data=candidates))
        try:
            if meanwhile is not None:
                # aiohttp sends an in-memory body a chunk of 64 KiB a turn of the loop (a backfill's
                # batch asks ~4.6 MB of ids), and a chunk waits while the socket is full: the work
                # meanwhile holds the loop, so it starts once every chunk had a turn, with a pause
                # every 8 for ClickHouse to read. It then answers while the work runs (a 150 ms
                # stand-in for the plan: 1-16 ms left to wait after it in 5 of 6 lookups, 63 in one,
                # against ~70 when the work came first).
                for turn in range(len(data) // _SENT_A_TURN + _TURNS_TO_SEND_A_HEAD):
                    if query.done():
                        break
                    await asyncio.sleep(0 if turn % 8 else 0.0005)
                meanwhile()
            result = await query
        except BaseException:
            query.cancel()  # no query outlives the call that made it
            query.add_done_callback(_settled)
            raise
        found: dict[tuple[str, str], list[CountedId]] = {}
        for customer, event_id, partition, offset, index, ingested_ms, occurred_us in result.result_rows:
            found.setdefault((customer, event_id), []).append(
                CountedId(
                    int(partition), position(int(offset), int(index)), ingested_ms / 1000, int(occurred_us)
                )
            )
        return found

    async def counted_id_hashes(self, partition: int, since: float) -> tuple[Hashes, Seconds]:
        """The hashes of the ids ``partition`` counted since unix time ``since``, and when, for its filter."""
        raw = await self.client.raw_query(
            _EVENT_ID_HASHES,
            parameters={"partition": partition, "since_ms": int(since * 1000)},
            fmt="RowBinary",
        )
        rows = np.frombuffer(raw, dtype=_HASH_ROW)
        return rows["id_hash"].copy(), rows["counted_at"].astype(np.float64)

    async def load_windows(self, keys: Iterable[WindowKey]) -> dict[WindowKey, WindowAggregate]:
        """Snapshots of windows that left worker state, for events arriving late."""
        keys = list(keys)
        found: dict[WindowKey, WindowAggregate] = {}
        # Bound parameters travel as HTTP form fields, which have a size limit.
        for start in range(0, len(keys), 200):
            found.update(await self._load_windows(keys[start : start + 200]))
        return found

    async def _load_windows(self, keys: list[WindowKey]) -> dict[WindowKey, WindowAggregate]:
        result = await self.client.query(
            WINDOW_SNAPSHOTS,
            parameters={
                "keys": [
                    (k.customer_id, k.agent_id, k.category, k.size, datetime.fromtimestamp(k.start, UTC))
                    for k in keys
                ]
            },
        )
        found = {}
        for row in result.result_rows:
            customer, agent, category, size, start = row[:5]
            key = WindowKey(customer, agent, category, int(size), int(start))
            found[key] = WindowAggregate.from_values(row[5:])
        return found
