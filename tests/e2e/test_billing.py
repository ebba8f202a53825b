"""November 2026 billed from events that went through Kafka, the worker and ClickHouse.

Each customer is on its own plan; every amount was worked out by hand from
the plan and the list prices in prices/ (tavily-search $0.008 a call until
the price change at noon on the 20th, stripe-lookup $0.05 a call, a support
agent's review $0.50 a minute).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from billing import store
from billing.exceptions import BillingError
from billing.invoices import BillingContext, Invoice, finalize, invoice_for
from billing.meters import meter_usage, replayed_customers
from billing.periods import Period
from billing.render import render_invoice
from costline.cli import main as costline
from costline.config import Settings
from costline.dev.harness import Pipeline
from schemas.events import UsageEvent, usage_event_adapter
from schemas.plans import BillingFile

NOVEMBER = Period.parse("2026-11")
DECEMBER = Period.parse("2026-12")
ROOT = Path(__file__).resolve().parents[2]


def event(customer: str, n: int, when: str, kind: str, **fields: Any) -> UsageEvent:
    return usage_event_adapter.validate_python(
        {
            "event_id": f"{customer}-{kind}-{when}-{n}",
            "customer_id": customer,
            "agent_id": fields.pop("agent", "support-bot"),
            "occurred_at": when,
            "kind": kind,
            **fields,
        }
    )


def actions(customer: str, count: int, day: str = "2026-11-10") -> list[UsageEvent]:
    """``count`` agent actions on ``day``: every other one an LLM call, the rest searches."""
    out = []
    for n in range(count):
        when = f"{day}T{9 + n % 8:02d}:{n % 60:02d}:00Z"
        if n % 2:
            out.append(event(customer, n, when, "tool", tool="tavily-search", calls=1))
        else:
            llm = {"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1000, "output_tokens": 100}
            out.append(event(customer, n, when, "llm", **llm))
    return out


PLANS = {
    "plans": [
        {"plan": "team", "version": "1", "charges": [
            {"kind": "platform_fee", "description": "Platform fee", "amount": "100.00"},
            {"kind": "usage", "meter": "agent_actions", "description": "Agent actions",
             "included": "10000", "unit_price": "0.01"},
        ]},
        {"plan": "seats", "version": "1", "charges": [
            {"kind": "seats", "description": "Seats", "unit_price": "30.00"},
        ]},
        {"plan": "outcomes", "version": "1", "charges": [
            {"kind": "outcome", "outcome_type": "invoice_extracted", "description": "Invoices extracted",
             "unit_price": "0.50"},
            {"kind": "outcome", "outcome_type": "deal_closed", "description": "Deals closed",
             "share_of_value": "0.10"},
        ]},
        {"plan": "cost-plus", "version": "1", "charges": [
            {"kind": "pass_through", "description": "Usage cost", "margin": "0.20"},
        ]},
        {"plan": "graduated", "version": "1", "charges": [
            {"kind": "usage", "meter": "agent_actions", "pricing": "graduated", "tiers": [
                {"up_to": "100", "unit_price": "0.02"},
                {"up_to": "500", "unit_price": "0.015"},
                {"up_to": None, "unit_price": "0.01"},
            ]},
        ]},
        {"plan": "volume", "version": "1", "charges": [
            {"kind": "usage", "meter": "agent_actions", "pricing": "volume", "tiers": [
                {"up_to": "100", "unit_price": "0.02"},
                {"up_to": "500", "unit_price": "0.015"},
                {"up_to": None, "unit_price": "0.01"},
            ]},
        ]},
        {"plan": "starter", "version": "1", "charges": [
            {"kind": "platform_fee", "description": "Starter fee", "amount": "30.00"},
            {"kind": "usage", "meter": "agent_actions", "description": "Agent actions",
             "included": "300", "unit_price": "0.05"},
        ]},
        {"plan": "growth", "version": "1", "charges": [
            {"kind": "platform_fee", "description": "Growth fee", "amount": "90.00"},
            {"kind": "usage", "meter": "agent_actions", "description": "Agent actions",
             "included": "1500", "unit_price": "0.02"},
        ]},
    ],
    "subscriptions": [
        {"customer_id": "hybrid", "plan": "team", "version": "1", "starts_on": "2026-11-01"},
        {"customer_id": "prepaid", "plan": "team", "version": "1", "starts_on": "2026-11-01"},
        {"customer_id": "seated", "plan": "seats", "version": "1", "starts_on": "2026-11-01", "seats": "12"},
        {"customer_id": "results", "plan": "outcomes", "version": "1", "starts_on": "2026-11-01"},
        {"customer_id": "passthru", "plan": "cost-plus", "version": "1", "starts_on": "2026-11-01"},
        {"customer_id": "tiered", "plan": "graduated", "version": "1", "starts_on": "2026-11-01"},
        {"customer_id": "bulk", "plan": "volume", "version": "1", "starts_on": "2026-11-01"},
        {"customer_id": "upgrader", "plan": "starter", "version": "1", "starts_on": "2026-11-01"},
        {"customer_id": "upgrader", "plan": "growth", "version": "1", "starts_on": "2026-11-16"},
        {"customer_id": "latecomer", "plan": "starter", "version": "1", "starts_on": "2026-10-01"},
    ],
    "credits": [
        {"customer_id": "prepaid", "grant_id": "welcome", "amount": "20.00", "granted_on": "2026-11-01"},
    ],
}  # fmt: skip


def outcome(customer: str, n: int, kind: str, value: str | None = None, success: bool = True) -> UsageEvent:
    fields: dict[str, Any] = {"outcome_type": kind, "success": success, "task_id": f"task-{n}"}
    if value is not None:
        fields["value"] = value
    return event(customer, n, f"2026-11-12T10:{n % 60:02d}:00Z", "outcome", **fields)


def november() -> list[UsageEvent]:
    return [
        *actions("hybrid", 12_500),
        *actions("prepaid", 12_500),
        *actions("tiered", 600),
        *actions("bulk", 600),
        *actions("upgrader", 400, day="2026-11-10"),
        *actions("upgrader", 1_000, day="2026-11-25"),
        *actions("latecomer", 400, day="2026-11-03"),
        # 40 invoices extracted, 3 attempts failed (not billed); two deals worth $12,345.67 in all.
        *(outcome("results", n, "invoice_extracted") for n in range(40)),
        *(outcome("results", 100 + n, "invoice_extracted", success=False) for n in range(3)),
        outcome("results", 200, "deal_closed", value="10000.00"),
        outcome("results", 201, "deal_closed", value="2345.67"),
        outcome("results", 202, "deal_closed", value="999.00", success=False),
        # 40 lookups at $0.05 and a 12-minute review at $0.50: $8.00 of cost.
        *(event("passthru", n, "2026-11-05T10:00:00Z", "tool", tool="stripe-lookup") for n in range(40)),
        event("passthru", 0, "2026-11-05T11:00:00Z", "human_review", sku="support-agent", minutes=12),
    ]


@pytest.fixture(scope="module")
def billed(pipeline: Pipeline) -> Iterator[BillingContext]:
    events = november()
    pipeline.publish(events)
    store.load(pipeline.db, store.read_billing_file(ROOT / "plans" / "meters.json"))
    store.load(pipeline.db, BillingFile.model_validate(PLANS))
    pipeline.wait_until_counted(len(events))
    yield BillingContext.load(pipeline.db)


def amounts(invoice: Invoice) -> list[D]:
    return [line.amount for line in invoice.lines]


def test_hybrid_plan_with_12500_actions_bills_exactly_125(billed: BillingContext) -> None:
    invoice = invoice_for(billed, "hybrid", NOVEMBER)
    assert amounts(invoice) == [D("100.00"), D("25.00")]  # fee; 2,500 actions over 10,000 at $0.01
    assert invoice.lines[1].quantity == 12_500 and invoice.lines[1].billable == 2_500
    assert invoice.total == D("125.00") and invoice.status == "draft"


def test_prepaid_credits_are_drawn_down_before_overage_is_billed(billed: BillingContext) -> None:
    invoice = invoice_for(billed, "prepaid", NOVEMBER)
    assert invoice.subtotal == D("125.00")
    assert invoice.credits_applied == D("20.00")  # the $25 overage pays from the $20 grant first
    assert invoice.total == D("105.00")


def test_seats_bill_per_seat_from_the_subscription(billed: BillingContext) -> None:
    assert invoice_for(billed, "seated", NOVEMBER).total == D("360.00")  # 12 × $30


def test_outcomes_bill_per_success_and_as_a_share_of_value(billed: BillingContext) -> None:
    invoice = invoice_for(billed, "results", NOVEMBER)
    # 40 × $0.50; 10% of $12,345.67 = $1,234.567, half-even to $1,234.57
    assert amounts(invoice) == [D("20.00"), D("1234.57")]
    assert invoice.total == D("1254.57")


def test_cost_passes_through_with_a_margin(billed: BillingContext) -> None:
    invoice = invoice_for(billed, "passthru", NOVEMBER)
    assert invoice.lines[0].quantity == D("8.00")  # 40 × $0.05 + 12 × $0.50
    assert invoice.total == D("9.60")  # + 20%


def test_graduated_and_volume_tiers(billed: BillingContext) -> None:
    # 600 actions. Graduated: 100 × 0.02 + 400 × 0.015 + 100 × 0.01. Volume: all 600 at 0.01.
    assert invoice_for(billed, "tiered", NOVEMBER).total == D("9.00")
    assert invoice_for(billed, "bulk", NOVEMBER).total == D("6.00")


def test_a_plan_change_in_mid_month_is_prorated_by_day(billed: BillingContext) -> None:
    invoice = invoice_for(billed, "upgrader", NOVEMBER)
    # Nov 1-15 on starter: $30 × 15/30; 400 actions less 150 included, at $0.05.
    # Nov 16-30 on growth: $90 × 15/30; 1,000 actions less 750 included, at $0.02.
    assert amounts(invoice) == [D("15.00"), D("12.50"), D("45.00"), D("5.00")]
    assert invoice.total == D("77.50")


def test_late_usage_after_finalization_becomes_an_adjustment_next_month(
    billed: BillingContext, pipeline: Pipeline
) -> None:
    november_final = finalize(billed, "latecomer", NOVEMBER)
    assert november_final.total == D("35.00")  # $30 + 100 actions over 300 at $0.05
    with pytest.raises(BillingError, match="already final"):
        finalize(billed, "latecomer", NOVEMBER)

    late = actions("latecomer", 20, day="2026-11-28")
    december = actions("latecomer", 100, day="2026-12-02")
    counted = pipeline.scalar("SELECT count() FROM ledger FINAL")
    pipeline.publish(late + december)
    pipeline.wait_until_counted(counted + len(late) + len(december))

    # November stays as it was finalized; the 20 late actions ($1.00) go on December's.
    assert invoice_for(billed, "latecomer", NOVEMBER).total == D("35.00")
    december_invoice = finalize(billed, "latecomer", DECEMBER)
    adjustment = december_invoice.lines[-1]
    assert adjustment.kind == "adjustment" and adjustment.adjusts_period == "2026-11"
    assert adjustment.quantity == 20 and adjustment.amount == D("1.00")
    assert december_invoice.total == D("31.00")  # $30 fee, 100 actions within the allowance, $1 adjustment
    # Billed once: January owes nothing more for November.
    january = invoice_for(billed, "latecomer", Period.parse("2027-01"))
    assert [line.kind for line in january.lines] == ["fee", "usage"]


def test_the_invoice_prints_as_a_table_json_csv_and_html(billed: BillingContext) -> None:
    invoice = invoice_for(billed, "hybrid", NOVEMBER)
    table = render_invoice(invoice, "table")
    assert "Agent actions" in table and "125.00" in table and "half-even" in table
    assert '"total": "125.00"' in render_invoice(invoice, "json")
    assert render_invoice(invoice, "csv").splitlines()[-1].endswith(",125.00,")
    page = render_invoice(invoice, "html")
    assert page.startswith("<!doctype html>") and "125.00" in page


def test_the_cli_loads_plans_and_prints_invoices(
    billed: BillingContext,
    pipeline: Pipeline,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    settings: Settings = pipeline.settings
    monkeypatch.setattr("costline.cli.get_settings", lambda: settings)
    assert costline(["plans", "load", str(ROOT / "plans" / "meters.json")]) == 0
    assert costline(["invoice", "--customer", "hybrid", "--period", "2026-11", "--format", "json"]) == 0
    assert '"total": "125.00"' in capsys.readouterr().out
    assert costline(["invoice", "--customer", "nobody", "--period", "2026-11"]) == 2
    assert "no subscription" in capsys.readouterr().err
    assert (
        costline(["invoice", "--all", "--period", "2026-11", "--format", "html", "--out", str(tmp_path)]) == 0
    )
    summary = capsys.readouterr().out.splitlines()
    assert len(summary) == 9  # every customer subscribed in November
    assert any(line.startswith("INV-hybrid-2026-11 ") and "125.00" in line for line in summary)
    assert (tmp_path / "INV-hybrid-2026-11.html").read_text().startswith("<!doctype html>")


def test_a_replayed_batch_is_billed_once(billed: BillingContext) -> None:
    """Rows written again (a worker died before its commit) reach meter_days twice; billing sees it."""
    assert replayed_customers(billed.client, NOVEMBER.start, NOVEMBER.end) == set()
    assert (
        meter_usage(
            billed.client, billed.meters["agent_actions"], NOVEMBER.start, NOVEMBER.end, ["tiered"]
        ).total("tiered")
        == 600
    )  # from the daily pre-aggregate
    billed.client.command("INSERT INTO ledger SELECT * FROM ledger WHERE customer_id = 'tiered' LIMIT 100")
    assert replayed_customers(billed.client, NOVEMBER.start, NOVEMBER.end) == {"tiered"}
    assert invoice_for(billed, "tiered", NOVEMBER).total == D("9.00")
