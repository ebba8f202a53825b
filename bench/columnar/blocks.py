"""Ledger and window rows as the worker's Native blocks, written from columns.

The column writers are :mod:`streams.sinks.native_block`'s. The ledger's
price columns are written from the batch's combination codes (pricing's
groups), not from a string a row: each column's dictionary comes from the few
combinations, its index from the codes, as ``low_cardinality_group`` does
after it has found the combinations. Rows the worker's path counted are a
block of their own, from :func:`streams.sinks.table_columns.ledger_columns`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import lz4.frame
import numpy as np
import numpy.typing as npt

from bench.columnar.batch import BatchColumns
from bench.columnar.fold import Changed, WindowStore
from schemas.events import MEDIA_TOKENS
from streams.column_groups import Numbering
from streams.sinks import native_block
from streams.sinks.table_columns import LEDGER_TYPES, LOW_CARDINALITY_GROUP, WINDOW_TYPES, ledger_columns

Money = npt.NDArray[Any]
_TOKENS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens")


def decimals(values: Money) -> bytes:
    """Decimal(38, 12) from units: an int64 column straight to int128, Python ints by the writer."""
    if values.dtype != object:
        wide = np.empty((len(values), 2), dtype="<i8")
        wide[:, 0] = values
        wide[:, 1] = values >> 63
        return wide.tobytes()
    return native_block.decimal128(values.tolist())


def _coded(values: Sequence[str], codes: npt.NDArray[np.int64], rows: int) -> bytes:
    """LowCardinality(String) of a row's code into ``values`` (the combinations' column)."""
    numbers = Numbering()
    of_combination = np.fromiter(map(numbers.__getitem__, values), np.int64, len(values))
    positions = native_block._narrowed(of_combination[codes], len(numbers))
    return native_block._low_cardinality(list(numbers), positions, rows)


def ledger_block(batch: BatchColumns, now: datetime) -> bytes:
    """The fast rows' ledger block (an empty bytes where there are none)."""
    rows = batch.fast
    if not rows:
        return b""
    codes = batch.combo
    combos = batch.combos
    written: dict[str, bytes] = {}
    for i, name in enumerate(LOW_CARDINALITY_GROUP):
        written[name] = _coded([combo[i] for combo in combos], codes, rows)
    written["outcome_type"] = _coded([c[2] if c[0] == "outcome" else "" for c in combos], codes, rows)
    fast = slice(0, rows)
    zeros = bytes(8 * rows)
    position = batch.position[fast].astype(np.uint64)
    writers = native_block.WRITERS
    written.update(
        event_id_sent=native_block.strings(batch.event_ids[fast]),
        occurred_at=batch.occurred_us[fast].astype("<i8").tobytes(),
        customer_id=native_block.low_cardinality_strings(batch.customers[fast]),
        agent_id=native_block.low_cardinality_strings(batch.agents[fast]),
        user_id=native_block.low_cardinality_strings(batch.optional_ids["user_id"]),
        task_id=native_block.strings(batch.optional_ids["task_id"]),
        request_id=native_block.strings(batch.optional_ids["request_id"]),
        quantity_sent=decimals(batch.quantity[fast]),
        batch=bytes(rows),
        cost_sent=decimals(batch.cost[fast]),
        currency=native_block.low_cardinality_strings(["USD"] * rows),
        outcome_value=b"\x01" * rows + bytes(16 * rows),  # no value on the fast path
        success=(batch.failed[fast] == 0).astype(np.uint8).tobytes(),
        attributes=native_block.string_maps(batch.attributes) if batch.attributes is not None else zeros,
        source_partition=batch.partition[fast].astype("<u2").tobytes(),
        source_offset=(position >> np.uint64(16)).astype("<u8").tobytes(),
        source_index=(position & np.uint64(0xFFFF)).astype("<u2").tobytes(),
        ingested_at_sent=writers["DateTime64(3, 'UTC')"]([now] * rows),
        service_tier=native_block.low_cardinality_strings([""] * rows),
        corrects=native_block.strings([""] * rows),
        reprice_run=native_block.low_cardinality_strings([""] * rows),
        **dict.fromkeys(MEDIA_TOKENS, zeros),
    )
    for column, name in enumerate(_TOKENS):
        written[name] = batch.tokens[fast, column].astype("<u8").tobytes()
    return native_block.block([(name, kind, written[name]) for name, kind in LEDGER_TYPES.items()], rows)


def slow_ledger_block(batch: BatchColumns, now: datetime) -> bytes:
    """The rows the worker's path counted, as the worker's sink writes them."""
    if not batch.slow:
        return b""
    columns = ledger_columns(batch.slow, now)
    group = native_block.low_cardinality_group([columns[name] for name in LOW_CARDINALITY_GROUP])
    written = dict(zip(LOW_CARDINALITY_GROUP, group, strict=True))
    for name, kind in LEDGER_TYPES.items():
        if name not in written:
            written[name] = native_block.WRITERS[kind](columns[name])
    return native_block.block(
        [(name, kind, written[name]) for name, kind in LEDGER_TYPES.items()], len(batch.slow)
    )


def window_block(changed: Changed, store: WindowStore, now: datetime) -> bytes:
    """Every changed window's running sums, as a cost_windows block."""
    rows = len(changed.keys)
    if not rows:
        return b""
    customers, agents, categories, sizes, starts = (list(c) for c in zip(*changed.keys, strict=True))
    sums = store.sums[changed.slots]
    writers = native_block.WRITERS
    written = {
        "customer_id": native_block.low_cardinality_strings(customers),
        "agent_id": native_block.low_cardinality_strings(agents),
        "category": native_block.low_cardinality_strings(categories),
        "window_size": np.array(sizes, "<u4").tobytes(),
        "window_start": np.array(starts, "<u4").tobytes(),
        "cost": native_block.decimal128(sums[:, 0].tolist()),
        "events": writers["UInt64"](sums[:, 1].tolist()),
        "quantity": native_block.decimal128(sums[:, 2].tolist()),
        **{name: writers["UInt64"](sums[:, 3 + i].tolist()) for i, name in enumerate(_TOKENS)},
        "outcome_value": native_block.decimal128(sums[:, 8].tolist()),
        "failed_outcomes": writers["UInt64"](sums[:, 9].tolist()),
        "version": store.version[changed.slots].astype("<u8").tobytes(),
        "source_partition": store.partition[changed.slots].astype("<u2").tobytes(),
        "updated_at": writers["DateTime64(3, 'UTC')"]([now] * rows),
    }
    return native_block.block([(name, kind, written[name]) for name, kind in WINDOW_TYPES.items()], rows)


def body(*blocks: bytes) -> bytes:
    """An insert's body: its blocks, LZ4-framed as the worker sends them."""
    compressed: bytes = lz4.frame.compress(b"".join(blocks))
    return compressed


# Categories whose quantity pricing keeps at the ledger's scale (seconds, minutes, GB-months): their
# windows' Decimal sums have its 12 places; every other quantity is a whole number (exponent 0).
_SCALED_QUANTITIES = frozenset({"compute", "storage", "human_review"})
_PICO = 10**12


def changelog_records(changed: Changed, store: WindowStore) -> dict[int, list[tuple[bytes, bytes]]]:
    """Each changed window's changelog record (``WindowKey.encode()``, ``WindowAggregate.encode()``'s
    bytes), by the partition it is changelogged to: the worker's table, record for record."""
    records: dict[int, list[tuple[bytes, bytes]]] = {}
    sums = store.sums[changed.slots].tolist()
    versions = store.version[changed.slots].tolist()
    partitions = store.partition[changed.slots].tolist()
    for key, values, version, partition in zip(changed.keys, sums, versions, partitions, strict=True):
        customer, agent, category, size, start = key
        quantity = values[2]
        text = (
            str(Decimal(quantity).scaleb(-12)) if category in _SCALED_QUANTITIES else str(quantity // _PICO)
        )
        value = b"p%d,%d,%b,%d,%d,%d,%d,%d,%d,%d,%d,%d" % (
            values[0], values[1], text.encode(), *values[3:], version, partition,
        )  # fmt: skip
        raw_key = "\x1f".join((customer, agent, category, str(size), str(start))).encode()
        records.setdefault(partition, []).append((raw_key, value))
    return records
