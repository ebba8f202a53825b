"""Stripe Billing meter events built from usage rows: one event per customer, meter and day."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.exceptions import BillingError
from billing.exports import UsageRow, check_request, plain, stripe_event

SPEND = UsageRow("2026-11", "acme", "spend", date(2026, 11, 3), Decimal("0.031250000000"), "USD")


def test_a_usage_row_is_a_meter_event_for_the_customers_stripe_id() -> None:
    event = stripe_event(SPEND, {"acme": "cus_Acme123"})

    assert event == {
        "event_name": "spend",
        "identifier": "costline-" + hashlib.sha256(b"acme|spend|2026-11-03").hexdigest()[:32],
        "payload": {"stripe_customer_id": "cus_Acme123", "value": "0.03125"},
        "timestamp": int(datetime(2026, 11, 3, 23, 59, 59, tzinfo=UTC).timestamp()),
    }


def test_a_customer_without_a_stripe_id_is_sent_as_itself() -> None:
    assert stripe_event(SPEND, {})["payload"]["stripe_customer_id"] == "acme"
    assert stripe_event(SPEND, {"acme": ""})["payload"]["stripe_customer_id"] == "acme"


def test_a_stripe_identifier_depends_on_customer_meter_and_day_only() -> None:
    later = SPEND._replace(value=Decimal("0.05"))  # late usage changed the day's total
    next_day = SPEND._replace(day=date(2026, 11, 4))
    other_meter = SPEND._replace(meter="tool_calls")

    assert stripe_event(SPEND, {})["identifier"] == stripe_event(later, {})["identifier"]
    assert stripe_event(SPEND, {})["identifier"] != stripe_event(next_day, {})["identifier"]
    assert stripe_event(SPEND, {})["identifier"] != stripe_event(other_meter, {})["identifier"]


def test_values_are_exact_decimals_without_exponent_or_trailing_zeros() -> None:
    assert [plain(Decimal(v)) for v in ("12500", "1.25E+4", "0.500", "0E-12", "-0")] == [
        "12500",
        "12500",
        "0.5",
        "0",
        "0",
    ]


def test_stripe_exports_usage_only_and_unknown_formats_are_named() -> None:
    check_request("stripe", "usage")
    with pytest.raises(BillingError, match="usage only"):
        check_request("stripe", "invoice_lines")
    with pytest.raises(BillingError, match="csv, parquet, jsonl, stripe"):
        check_request("xlsx", "usage")
    with pytest.raises(BillingError, match="usage, invoice_lines"):
        check_request("csv", "customers")
