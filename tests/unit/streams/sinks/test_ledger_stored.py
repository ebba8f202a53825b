"""A ledger block's stored columns are what 025's DEFAULTs make of its ``*_sent`` columns, taken here
row by row from Python's own ``uuid`` and integers (the server's own check: tests/e2e/
test_ledger_stored_columns.py); a block with an id in no canonical form is not derived; the native
UUID parse is the reference's."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from costline.event_id import new_event_id
from streams.sinks import ledger_stored
from streams.sinks.clickhouse_sink import _written
from streams.sinks.ledger_stored import (
    NotDerived,
    cost_parts,
    quantity_rest,
    stored,
    uuid_halves,
    uuid_halves_here,
)
from streams.sinks.table_columns import (
    LEDGER_STORED_TYPES,
    STORED_PRICE_GROUP,
    LedgerBlock,
    ledger_columns,
    price_group,
)
from streams.window_batch import EventColumns
from tests.unit.streams.sinks.test_native_block import decoded
from tests.unit.streams.sinks.test_table_columns import a_mixed_batch

NOW = datetime(2026, 11, 20, 12, 0, 0, 987_654, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
native = ledger_stored._native
needs_native = pytest.mark.skipif(native is None, reason="the native extension is not built")
WRAP = 1 << 64


def _signed(value: int) -> int:
    value %= WRAP
    return value - WRAP if value >= 1 << 63 else value


def _ids(rows: int = 500) -> list[str]:
    rng = random.Random(5)
    at = datetime(2026, 11, 20, tzinfo=UTC)
    made = [new_event_id(at + timedelta(milliseconds=rng.randrange(10**9)), rng) for _ in range(rows)]
    return [str(uuid.UUID(int=0)), str(uuid.UUID(int=WRAP * WRAP - 1)), str(uuid.uuid4()), *made]


def canonical_batch() -> list[Any]:
    counted = a_mixed_batch()
    for (_, _, priced), event_id in zip(counted, _ids(), strict=False):
        priced.event = priced.event.model_copy(update={"event_id": event_id})
    return counted


@pytest.mark.parametrize("from_the_processors_columns", [False, True])
def test_each_stored_column_is_what_the_defaults_make_of_the_sent_ones(
    from_the_processors_columns: bool,
) -> None:
    counted = canonical_batch()
    batch = EventColumns.of(counted) if from_the_processors_columns else None
    columns = stored(ledger_columns(counted, NOW, batch) if batch else ledger_columns(counted, NOW), NOW)
    ingested_ms = (NOW - EPOCH) // timedelta(milliseconds=1)
    for row, (_, _, priced) in enumerate(counted):
        event, tokens = priced.event, priced.tokens
        whole = uuid.UUID(event.event_id).int
        millis = (event.occurred_at - EPOCH) // timedelta(milliseconds=1)
        assert columns["event_uuid_high"][row] == _signed((whole >> 64) - (millis << 16))
        assert columns["event_uuid_low"][row] == whole % WRAP
        assert columns["event_id_other"][row] == ""
        units = columns["quantity_sent"][row]
        assert columns["quantity_rest"][row] == units - (tokens.input + tokens.output) * 10**12
        cost = columns["cost_sent"][row]
        assert (columns["cost_pico"][row], columns["cost_over"][row]) == (cost, 0)
        assert columns["ingested_lag_ms"][row] == ingested_ms - millis


def test_the_price_key_joins_kind_provider_sku_unit_and_version_by_the_unit_separator() -> None:
    counted = canonical_batch()
    batch = EventColumns.of(counted)
    for columns in (ledger_columns(counted, NOW), ledger_columns(counted, NOW, batch)):
        keys, models = (
            decoded("LowCardinality(String)", written, len(counted))
            for written in price_group(columns, STORED_PRICE_GROUP)
        )
        parts = ("kind", "provider", "sku", "unit", "price_version")
        sent = zip(*(columns[f"{name}_sent"] for name in parts), strict=True)
        assert keys == ["\x1f".join(parts) for parts in sent]
        assert models == list(columns["model_sent"])


def test_a_block_names_every_stored_column_in_its_type() -> None:
    columns = stored(ledger_columns(canonical_batch(), NOW), NOW)
    assert len(_written(columns, LEDGER_STORED_TYPES)) == len(LEDGER_STORED_TYPES)


@pytest.mark.parametrize(
    "odd_id",
    [
        "0B6F3C2E-8D4A-4F1E-9C3B-2A1D5E6F7A8B",  # upper case: toUUIDOrZero reads it, toString differs
        "0b6f3c2e8d4a4f1e9c3b2a1d5e6f7a8b",  # undashed
        "{0b6f3c2e-8d4a-4f1e-9c3b-2a1d5e6f7a8b}",
        "0b6f3c2e-8d4a-4f1e-9c3b-2a1d5e6f7a8",  # 35 long, beside one 37 long: 36 a row all the same
        "0b6f3c2e-8d4a-4f1e-9c3b-2a1d5e6f7a8g",
        "0b6f3c2e-8d4a-4f1e-9c3b 2a1d5e6f7a8b",
        "0b6f3c2e-8d4a-4f1e-9c3b-2a1d5e6f7a ",
        "0b6f3c2e-8d4a-4f1e-9c3b-2a1d5e6f7aé",
        "0b6f3c2e-8d4a-4f1e-9c3b--a1d5e6f7a8b",
        "e-1",
    ],
)
def test_a_block_with_an_id_in_no_canonical_form_is_not_derived(odd_id: str) -> None:
    ids = [*_ids(20), odd_id, "x" + _ids(1)[-1]] if len(odd_id) == 35 else [*_ids(20), odd_id]
    for parse in (uuid_halves, uuid_halves_here):
        with pytest.raises(NotDerived):
            parse(ids)


def test_quantities_and_tokens_past_int64_are_derived_exactly() -> None:
    largest = 10**38 - 1  # a Decimal(38, 12)'s units
    quantity = [largest, -largest, 0, 5 * 10**12, 1]
    inputs = [2**64 - 1, 0, 7, 3, 0]
    outputs = [2**64 - 1, 0, 0, 2, 0]
    rest = quantity_rest(quantity, inputs, outputs)
    assert list(rest) == [q - (i + o) * 10**12 for q, i, o in zip(quantity, inputs, outputs, strict=True)]
    small = quantity_rest([10**13, 3], np.array([4, 0]), np.array([6, 0]))
    assert [int(v) for v in small] == [0, 3]


def test_a_cost_past_int64_picos_is_kept_whole_beside_a_zero() -> None:
    costs = [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**38 - 1, 0]
    picos, over = cost_parts(costs)
    assert list(picos) == [2**63 - 1, 0, -(2**63), 0, 0, 0]
    assert over == [0, 2**63, 0, -(2**63) - 1, 10**38 - 1, 0]
    picos, over = cost_parts([5, -7])
    assert [int(v) for v in picos] == [5, -7] and over == [0, 0]


def test_the_reference_reads_each_ids_two_halves() -> None:
    ids = _ids()
    high, low = uuid_halves_here(ids)
    assert [(int(h) << 64) | int(lo) for h, lo in zip(high, low, strict=True)] == [
        uuid.UUID(i).int for i in ids
    ]


@needs_native
def test_the_native_halves_are_the_references() -> None:
    ids = _ids()
    for got, expected in zip(uuid_halves(ids), uuid_halves_here(ids), strict=True):
        assert got.tolist() == expected.tolist()
    assert native is not None
    assert native.uuid_halves([*ids, "e-1"]) is None
    assert native.uuid_halves([*ids, ids[3].upper()]) is None


def test_the_switch_set_to_python_leaves_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_stored, "_native", None)
    ids = _ids(10)
    assert [int(h) for h in uuid_halves(ids)[0]] == [uuid.UUID(i).int >> 64 for i in ids]


def test_a_block_without_price_codes_keys_its_rows_combinations() -> None:
    block = LedgerBlock(
        kind_sent=["llm", "tool", "llm"],
        provider_sent=["openai", "search", "openai"],
        sku_sent=["a", "b", "a"],
        model_sent=["m", "", "m"],
        unit_sent=["tokens", "calls", "tokens"],
        price_version_sent=["v1", "v2", "v1"],
    )
    keys, models = (decoded("LowCardinality(String)", w, 3) for w in price_group(block, STORED_PRICE_GROUP))
    llm, tool = "llm\x1fopenai\x1fa\x1ftokens\x1fv1", "tool\x1fsearch\x1fb\x1fcalls\x1fv2"
    assert keys == [llm, tool, llm]
    assert models == ["m", "", "m"]
