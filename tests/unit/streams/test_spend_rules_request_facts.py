"""Without budgets, a request cost limit's alerts are made from the batch's columns where they tell
every field such an alert reads: the same alerts as the events' objects give, no object made."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from streams.intake import decode_and_price
from streams.spend_rules import BudgetBook, LimitSettings, SpendRules, budget_rules
from streams.window_batch import EventColumns
from tests.factories import DAY, usage
from tests.unit.streams.test_intake_columns import BOUNDS, NOW, catalog, fleet, message, odd, per_event
from tests.unit.streams.test_spend_rules import Records

# Every test runs against the Python decoder and the native one (tests/unit/streams/conftest.py).
pytestmark = pytest.mark.usefixtures("wire_decoder")


def limited(request_cost: str, request_tokens: int | None = None) -> SpendRules:
    return SpendRules(
        BudgetBook(),
        budget_rules(Decimal(20), Decimal(10), Decimal(20)),
        LimitSettings(request_cost=Decimal(request_cost), request_tokens=request_tokens),
        now=lambda: NOW,
    )


def every_kind_and_its_ids() -> list[Any]:
    """The fleet's events (of every kind) on two partitions, then events with a request id, a time
    sent as ``+00:00`` and one with a fraction of a second."""
    at = DAY + timedelta(minutes=5)
    sent = [
        usage("r-llm", "llm", at=at, request_id="req-1"),
        usage("r-tool", at="2026-11-20T00:05:00+00:00", request_id="req-2"),
        usage("r-fraction", at="2026-11-20T00:05:00.123456Z"),
    ]
    return fleet(0) + fleet(40, partition=4) + [message(60, b"acme", sent)]


@pytest.mark.parametrize("request_cost", ["0", "0.0001", "0.5"])
def test_request_cost_alerts_from_the_columns_are_those_of_the_events_objects(request_cost: str) -> None:
    messages = every_kind_and_its_ids()
    counted, _ = decode_and_price(messages, catalog(), BOUNDS, NOW)
    columns = EventColumns.of(counted)
    assert columns.utc_times  # every message read as columns
    judged = limited(request_cost).evaluate(columns.counted, Records(), columns)
    expected = limited(request_cost).evaluate(per_event(messages, catalog())[0], Records())

    assert len(expected.alerts) >= 10 if request_cost != "0.5" else expected.alerts
    assert [(a.alert_id, a.payload()) for a in judged.alerts] == [
        (a.alert_id, a.payload()) for a in expected.alerts
    ]
    assert not counted.made and not counted._rows  # no event's object made for an alert


def test_a_batch_of_chosen_rows_keeps_its_times_in_utc_and_alerts_as_its_objects() -> None:
    messages = every_kind_and_its_ids()
    counted, _ = decode_and_price(messages, catalog(), BOUNDS, NOW)
    keep = np.arange(len(counted)) % 3 != 1
    chosen = EventColumns.of(counted).select(keep)
    assert chosen.utc_times
    judged = limited("0").evaluate(chosen.counted, Records(), chosen)
    objects = [event for event, kept in zip(per_event(messages, catalog())[0], keep, strict=True) if kept]
    expected = limited("0").evaluate(objects, Records())
    assert [a.payload() for a in judged.alerts] == [a.payload() for a in expected.alerts]


def test_messages_the_columns_decline_leave_times_to_the_objects_and_alerts_as_they_were() -> None:
    """A time the per-event path admits may carry any offset: a batch with its rows is not in UTC."""
    messages = every_kind_and_its_ids() + odd(70)
    counted, _ = decode_and_price(messages, catalog(), BOUNDS, NOW)
    columns = EventColumns.of(counted)
    assert not columns.utc_times
    judged = limited("0").evaluate(columns.counted, Records(), columns)
    expected = limited("0").evaluate(per_event(messages, catalog())[0], Records())
    assert [a.payload() for a in judged.alerts] == [a.payload() for a in expected.alerts]


def test_with_a_token_limit_the_events_objects_are_read() -> None:
    messages = every_kind_and_its_ids()
    counted, _ = decode_and_price(messages, catalog(), BOUNDS, NOW)
    columns = EventColumns.of(counted)
    judged = limited("0.0001", 1).evaluate(columns.counted, Records(), columns)
    expected = limited("0.0001", 1).evaluate(per_event(messages, catalog())[0], Records())
    assert [a.payload() for a in judged.alerts] == [a.payload() for a in expected.alerts]
    assert counted._rows  # made: the token limit reads their objects
