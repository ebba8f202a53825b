"""Batched writes of ledger rows and window snapshots to ClickHouse.

The worker calls :meth:`ClickHouseSink.write` once per batch, before it
acknowledges the batch's offsets: a batch is either in ClickHouse or will
be replayed. Both tables are ReplacingMergeTree keyed so that writing a
replayed batch again replaces rows with identical ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np
import orjson
from clickhouse_connect.driver.asyncclient import AsyncClient
from clickhouse_connect.driver.external import ExternalData

from streams.aggregation import WindowAggregate, WindowKey, position, split_position
from streams.clickhouse import read_query
from streams.dedup import Hashes, Seconds
from streams.pricing import PricedEvent

LEDGER_COLUMNS = (
    "event_id",
    "occurred_at",
    "customer_id",
    "agent_id",
    "user_id",
    "task_id",
    "request_id",
    "kind",
    "provider",
    "sku",
    "unit",
    "quantity",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "batch",
    "cost",
    "currency",
    "price_version",
    "outcome_type",
    "outcome_value",
    "success",
    "attributes",
    "source_partition",
    "source_offset",
    "source_index",
    "ingested_at",
)

WINDOW_COLUMNS = (
    "customer_id",
    "window_size",
    "window_start",
    "agent_id",
    "category",
    "cost",
    "events",
    "quantity",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "outcome_value",
    "failed_outcomes",
    "source_partition",
    "version",
    "updated_at",
)

DEAD_LETTER_COLUMNS = (
    "failed_at",
    "error_code",
    "reason",
    "source_topic",
    "source_partition",
    "source_offset",
    "message_key",
    "payload",
)

Counted = tuple[int, int, PricedEvent]
_WINDOW_SNAPSHOTS = read_query("window_snapshots")
_COUNTED_EVENT_IDS = read_query("counted_event_ids")
_EVENT_ID_HASHES = read_query("event_id_hashes")
_HASH_ROW = np.dtype([("id_hash", "<u8"), ("counted_at", "<u4")])  # RowBinary of event_id_hashes.sql


class CountedId(NamedTuple):
    """Where and when an id was counted: a row of ``event_ids``."""

    partition: int
    position: int
    counted_at: float  # unix seconds (ledger ingested_at)
    occurred_at_us: int


def ledger_row(partition: int, pos: int, priced: PricedEvent, now: datetime) -> list[Any]:
    event = priced.event
    tokens = priced.tokens
    is_outcome = event.kind == "outcome"
    return [
        event.event_id,
        event.occurred_at,
        event.customer_id,
        event.agent_id,
        event.user_id or "",
        event.task_id or "",
        event.request_id or "",
        event.kind,
        priced.provider,
        priced.sku,
        priced.unit,
        priced.quantity,
        tokens.input,
        tokens.cached_input,
        tokens.cache_write,
        tokens.output,
        tokens.reasoning,
        bool(getattr(event, "batch", False)),
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
    ]


def window_row(key: WindowKey, agg: WindowAggregate, now: datetime) -> list[Any]:
    return [
        key.customer_id,
        key.size,
        datetime.fromtimestamp(key.start, UTC),
        key.agent_id,
        key.category,
        agg.cost,
        agg.events,
        agg.quantity,
        agg.input_tokens,
        agg.cached_input_tokens,
        agg.cache_write_tokens,
        agg.output_tokens,
        agg.reasoning_tokens,
        agg.outcome_value,
        agg.failed_outcomes,
        agg.partition,
        agg.last_offset,
        now,
    ]


class ClickHouseSink:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def write(
        self,
        counted: Sequence[Counted],
        windows: Mapping[WindowKey, WindowAggregate],
        dead_letters: Sequence[Sequence[Any]] = (),
    ) -> None:
        now = datetime.now(UTC)
        if counted:
            rows = [ledger_row(p, o, priced, now) for p, o, priced in counted]
            await self.client.insert("ledger", rows, column_names=LEDGER_COLUMNS)
        if windows:
            rows = [window_row(k, a, now) for k, a in windows.items()]
            await self.client.insert("cost_windows", rows, column_names=WINDOW_COLUMNS)
        if dead_letters:
            await self.client.insert("dead_letters", list(dead_letters), column_names=DEAD_LETTER_COLUMNS)

    async def counted_ids(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[CountedId]]:
        """Where each (customer, event_id) was counted, as far back as ``event_ids`` keeps; one query."""
        pairs = list(pairs)
        if not pairs:
            return {}
        candidates = ExternalData(
            file_name="candidates",
            data=b"\n".join(orjson.dumps(pair) for pair in pairs),
            fmt="JSONCompactEachRow",
            structure=["customer_id String", "event_id String"],
        )
        result = await self.client.query(_COUNTED_EVENT_IDS, external_data=candidates)
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
            _WINDOW_SNAPSHOTS,
            parameters={
                "keys": [
                    (k.customer_id, k.agent_id, k.category, k.size, datetime.fromtimestamp(k.start, UTC))
                    for k in keys
                ]
            },
        )
        found = {}
        for row in result.result_rows:
            key = WindowKey(row[0], row[1], row[2], int(row[3]), int(row[4]))
            found[key] = WindowAggregate(
                cost=Decimal(row[5]),
                events=int(row[6]),
                quantity=Decimal(row[7]),
                input_tokens=int(row[8]),
                cached_input_tokens=int(row[9]),
                cache_write_tokens=int(row[10]),
                output_tokens=int(row[11]),
                reasoning_tokens=int(row[12]),
                outcome_value=Decimal(row[13]),
                failed_outcomes=int(row[14]),
                last_offset=int(row[15]),
                partition=int(row[16]),
            )
        return found
