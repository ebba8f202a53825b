"""A ledger block's stored columns, derived in the worker exactly as the table's DEFAULTs derive them.

Writers name the ledger's EPHEMERAL ``*_sent`` columns (sql/ddl 015, 018, 023, 025) and the server
stores what their DEFAULT expressions make of them: the id's UUID halves and the id as sent when it
is no canonical UUID, the price's five names as one key, the quantity less its tokens, the cost as
Int64 picos or the Decimal past them, the ingestion time as a lag. Evaluating those expressions cost
the server ~0.7 µs a row, a fifth of the ledger's own insert (bench/RESULTS.md, sessions 21 and 22),
on the same two cores as the worker: the worker's block writes the stored columns instead, each
value as the expression gives it, and the server only stores them. Other writers may go on naming
the ``*_sent`` columns; the table is unchanged. A migration that changes one of these DEFAULTs
changes this module with it (tests/e2e/test_ledger_stored_columns.py compares the two on the server).

Only ids in canonical form (36 characters, lowercase hex and dashes: what the SDK makes) are
derived here. ClickHouse's ``toUUIDOrZero`` also reads upper-case and undashed forms, and what it
reads of the rest is its parser's to say: a block holding any other id is written as sent
(:class:`NotDerived`), and the server derives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from schemas.money import PICO_DIGITS
from streams.native_extension import native_extension

_SEPARATOR = "\x1f"  # 025's price_key joins kind, provider, SKU, unit and price version by it
_UUID_CHARS = 36
_DASHES = [8, 13, 18, 23]
_HEX_CHARS = 32
_DASH = ord("-")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_MICROS_A_MILLI = 1_000
_UNITS_A_TOKEN = 10**PICO_DIGITS  # toDecimal128(tokens, 0) at the quantity's scale
# Tokens a row at most for their units to fit an int64 (no row comes near: MAX_TOKENS is 10**9).
_INT64_TOKENS = (2**63 - 1) // _UNITS_A_TOKEN


# The extension's uuid_halves, unless COSTLINE_NATIVE_BLOCK=python or the build lacks it.
_native = native_extension("COSTLINE_NATIVE_BLOCK", "uuid_halves")


class NotDerived(Exception):
    """A block this module does not derive (an id in no canonical form): it is written as sent."""


def stored(columns: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The block ``columns`` (:func:`streams.sinks.table_columns.ledger_columns`, ``now`` its
    ingestion time) with the stored columns in place of the ``*_sent`` ones it names.

    The price's columns stay, for :func:`streams.sinks.table_columns.price_group` to write
    price_key from. Raises :class:`NotDerived` for a block with an id in no canonical form."""
    occurred_at = np.asarray(columns["occurred_at"], np.int64)  # microseconds, from 1970 (schemas.events)
    millis = occurred_at // _MICROS_A_MILLI  # toUnixTimestamp64Milli: no time before 1970 to round
    high, low = uuid_halves(columns["event_id_sent"])
    # The high half less the millisecond shifted as in a v7 id, both wrapping as the DEFAULT's Int64s.
    columns["event_uuid_high"] = (high - (millis.astype(np.uint64) << np.uint64(16))).view(np.int64)
    columns["event_uuid_low"] = low
    columns["event_id_other"] = [""] * len(occurred_at)  # canonical ids only: toString gives each back
    columns["quantity_rest"] = quantity_rest(
        columns["quantity_sent"], columns["input_tokens"], columns["output_tokens"]
    )
    columns["cost_pico"], columns["cost_over"] = cost_parts(columns["cost_sent"])
    ingested_ms = (now - _EPOCH) // _MILLISECOND  # a DateTime64(3)'s ticks, floored as the writer does
    columns["ingested_lag_ms"] = ingested_ms - millis
    return columns


def uuid_halves(ids: Sequence[str]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Each id's UUID as its two big-endian 64-bit halves (uint64), as 018's DEFAULTs read
    ``UUIDStringToNum(toString(toUUIDOrZero(id)))``; raises :class:`NotDerived` unless every id is
    a UUID in canonical form (toString of it gives the id back: event_id_other is '')."""
    # Natively where built, an id at a time in one pass: a fifth of the reference's NumPy calls.
    if _native is not None and type(ids) is list:
        found: bytes | None = _native.uuid_halves(ids)
        if found is not None:
            halves = np.frombuffer(found, np.uint64).reshape(len(ids), 2)
            return halves[:, 0], halves[:, 1]
    return uuid_halves_here(ids)


def uuid_halves_here(ids: Sequence[str]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """:func:`uuid_halves` in Python (the reference)."""
    rows = len(ids)
    # Every id 36 long: the longest is, and they add up to 36 a row (checked below).
    if not rows or max(map(len, ids)) != _UUID_CHARS:
        raise NotDerived
    try:
        text = "".join(ids).encode("ascii")
    except UnicodeEncodeError:
        raise NotDerived from None
    digits = text.replace(b"-", b"")
    # Four dashes an id, each where a canonical UUID has it; every other character a lowercase hex
    # digit (fromhex reads upper case too, and skips whitespace: the halves' count tells).
    if len(text) != _UUID_CHARS * rows or len(digits) != _HEX_CHARS * rows or digits != digits.lower():
        raise NotDerived
    if not (np.frombuffer(text, np.uint8).reshape(rows, _UUID_CHARS)[:, _DASHES] == _DASH).all():
        raise NotDerived
    try:
        octets = bytes.fromhex(digits.decode("ascii"))
    except ValueError:
        raise NotDerived from None
    if len(octets) != 16 * rows:
        raise NotDerived
    halves = np.frombuffer(octets, ">u8").reshape(rows, 2).astype(np.uint64)
    return halves[:, 0], halves[:, 1]


def quantity_rest(quantity: Sequence[int], inputs: Sequence[int], outputs: Sequence[int]) -> Any:
    """Each quantity (units of 1e-12) less its input and output tokens, as 025's DEFAULT
    ``quantity_sent - toDecimal128(input_tokens, 0) - toDecimal128(output_tokens, 0)``: exact
    (Decimal(38, 12) units and token counts never pass an int128)."""
    try:
        units = _int64s(quantity)
        tokens = np.asarray(inputs, np.int64) + np.asarray(outputs, np.int64)
    except OverflowError:  # past int64: row by row below
        pass
    else:
        # No int64 wraps: quantities from 0 and tokens few enough that their units fit.
        if (
            len(units)
            and int(units.min()) >= 0
            and 0 <= int(tokens.min()) <= int(tokens.max()) <= _INT64_TOKENS
        ):
            return units - tokens * _UNITS_A_TOKEN
    return [
        int(q) - (int(i) + int(o)) * _UNITS_A_TOKEN for q, i, o in zip(quantity, inputs, outputs, strict=True)
    ]


def cost_parts(costs: Sequence[int]) -> tuple[Any, list[int]]:
    """Each cost (units of 1e-12) as 025's cost_pico and cost_over: the units where they fit an
    Int64 (cost_over 0), else 0 and the cost itself."""
    rows = len(costs)
    try:
        return _int64s(costs), [0] * rows
    except OverflowError:
        fits = [-(2**63) <= cost < 2**63 for cost in costs]
        picos = [cost if fit else 0 for cost, fit in zip(costs, fits, strict=True)]
        return picos, [0 if fit else cost for cost, fit in zip(costs, fits, strict=True)]


def _int64s(values: Sequence[int]) -> np.ndarray[Any, Any]:
    """ints as an int64 array; OverflowError past int64. (NumPy's fromiter converts amounts past
    2**30 five times as fast as array.array.)"""
    if isinstance(values, np.ndarray):
        return values.astype(np.int64, casting="safe")
    return np.fromiter(values, np.int64, len(values))


def price_key(kind: str, provider: str, sku: str, unit: str, price_version: str) -> str:
    """025's price_key DEFAULT: the five names joined by the unit separator."""
    return _SEPARATOR.join((kind, provider, sku, unit, price_version))
