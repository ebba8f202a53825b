"""A batch's columns hold the very values of its rows, in the forms the Native writers take."""

from __future__ import annotations

import decimal
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest

from schemas.prices import load_price_dir
from streams.aggregation import fold, position
from streams.decoding import decode_message
from streams.pricing import PriceCatalog
from streams.sinks.clickhouse_sink import LEDGER_COLUMNS, WINDOW_COLUMNS, _written, ledger_row, window_row
from streams.sinks.table_columns import LEDGER_TYPES, WINDOW_TYPES, ledger_columns, units, window_columns
from streams.window_batch import Coded, EventColumns, plan_windows
from tests.factories import AUDIO_PRICES, PRICES, event, llm_call
from tests.unit.streams.sinks.test_clickhouse_sink import migrated_columns
from tests.unit.streams.sinks.test_native_block import decoded as read_back

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MONEY = {"quantity_sent", "cost_sent", "outcome_value"}


def a_mixed_batch() -> list[Any]:
    prices = PriceCatalog([*load_price_dir(PRICES), AUDIO_PRICES])
    sent = [
        event("t-1", user_id="u-1", task_id="t", attributes={"team": "ü"}),
        event("t-2", agent="other-bot"),
        llm_call(
            "openai/gpt-4o-audio-preview", input_tokens=10_000, input_audio_tokens=6_000, output_tokens=5
        ),
        event("l-2", "llm", batch=True, provider="openai", model="gpt-4o", input_tokens=10, output_tokens=1),
        event("won", "outcome", outcome_type="ticket_resolved", value="12.345678901234", success=False),
        event("plain", "outcome", outcome_type="ticket_resolved"),
        event(
            "fix",
            "correction",
            corrects="l-2",
            corrected_kind="llm",
            run_id="run-1",
            reason="a price fix",
            cost_delta="-0.000000000001",
            sku="gpt-4o",
        ),
    ]
    return [(2, position(1_000 + n, n), prices.price(e)) for n, e in enumerate(sent)]


def as_the_worker_decodes_them(counted: list[Any]) -> list[Any]:
    """The same events through the worker's decoder (its fast path builds the models itself)."""
    decoded = [
        decode_message(orjson.dumps(priced.event.model_dump(mode="json")))[0].event
        for _, _, priced in counted
    ]
    return [(p, o, replace(priced, event=e)) for (p, o, priced), e in zip(counted, decoded, strict=True)]


@pytest.mark.parametrize("decoded", [False, True])
@pytest.mark.parametrize("from_the_processors_columns", [False, True, "planned"])
def test_the_ledgers_columns_are_its_rows_taken_apart(
    decoded: bool, from_the_processors_columns: bool | str
) -> None:
    counted = as_the_worker_decodes_them(a_mixed_batch()) if decoded else a_mixed_batch()
    if from_the_processors_columns:  # rows 2 to 5 of the batch the processor read
        batch = EventColumns.of(counted)
        if from_the_processors_columns == "planned":  # customers and agents numbered by the plan
            plan_windows(batch, (60, 3600))
            assert batch.customer_codes is not None and batch.agent_codes is not None
        counted = counted[2:6]
        columns = ledger_columns(counted, NOW, batch, slice(2, 6))
    else:
        columns = ledger_columns(counted, NOW)
    rows = list(zip(*[ledger_row(p, o, priced, NOW) for p, o, priced in counted], strict=True))
    for name, expected in zip(LEDGER_COLUMNS, rows, strict=True):
        got = list(columns[name])
        if name in MONEY:  # units of 1e-12 USD for the Decimal(38, 12) writer
            expected = tuple(None if v is None else units([v])[0] for v in expected)
        if name == "occurred_at":  # DateTime64(6)'s own ticks: epoch microseconds
            expected = tuple((at - EPOCH) // timedelta(microseconds=1) for at in expected)
        assert [int(v) if name.startswith("source_") else v for v in got] == list(expected), name


def test_the_windows_columns_are_their_rows_taken_apart() -> None:
    windows = fold(a_mixed_batch(), (60, 3600), {}).changed
    columns = window_columns(list(windows.items()), NOW)
    rows = list(zip(*[window_row(k, a, NOW) for k, a in windows.items()], strict=True))
    for name, expected in zip(WINDOW_COLUMNS, rows, strict=True):
        if name == "window_start":  # DateTime's own ticks: epoch seconds
            expected = tuple(int(at.timestamp()) for at in expected)
        if name == "quantity":
            expected = tuple(units(list(expected)))
        assert list(columns[name]) == list(expected), name


def test_each_column_type_is_the_migrated_one() -> None:
    assert list(LEDGER_TYPES) == list(LEDGER_COLUMNS)
    assert list(WINDOW_TYPES) == list(WINDOW_COLUMNS)
    migrated = {
        **migrated_columns("ledger"),
        **{f"w.{k}": v for k, v in migrated_columns("cost_windows").items()},
    }
    for name, kind in [*LEDGER_TYPES.items(), *((f"w.{k}", v) for k, v in WINDOW_TYPES.items())]:
        declared = migrated[name].split(" EPHEMERAL")[0].split(" DEFAULT")[0].split(" CODEC")[0]
        assert declared.replace("'", "").replace(" ", "") == kind.replace("'", "").replace(" ", ""), name
    assert units([Decimal("-0")]) == [0]


@pytest.mark.parametrize(
    "amount",
    [
        "-0",
        "1",
        "0.000000000001",
        "1.9999999999999",
        "-1.9999999999999",
        "1E+25",
        "123.4567890123456789",
        "9" * 38,
    ],
)
def test_an_amount_in_units_is_its_point_shifted_twelve_places_and_truncated(amount: str) -> None:
    exact = int(decimal.Context(prec=60).scaleb(Decimal(amount), 12))
    assert units([Decimal(amount)]) == [exact]
    assert units([Decimal(amount)] * 3) == [exact] * 3  # a repeated amount, converted once


def test_a_ledger_block_from_the_plans_codes_reads_back_as_the_one_from_its_rows() -> None:
    """The customer and agent columns written from plan_windows' codes: other bytes (a dictionary in
    the codes' order), the same rows as the block written from the objects."""
    counted = a_mixed_batch()
    batch = EventColumns.of(counted)
    plan_windows(batch, (60, 3600))
    columns = ledger_columns(counted[1:6], NOW, batch, slice(1, 6))
    assert type(columns["customer_id"]) is Coded and type(columns["agent_id"]) is Coded
    from_codes = _written(columns, LEDGER_TYPES)
    from_rows = _written(ledger_columns(counted[1:6], NOW), LEDGER_TYPES)
    for (name, kind), written, expected in zip(LEDGER_TYPES.items(), from_codes, from_rows, strict=True):
        assert read_back(kind, written, 5) == read_back(kind, expected, 5), name
    assert read_back("LowCardinality(String)", from_codes[3], 5) == [
        priced.event.agent_id for _, _, priced in counted[1:6]
    ]
