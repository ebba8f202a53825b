"""Plans turn a month's usage into invoice lines, each rounded once to the cent."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from pydantic import ValidationError

from billing.rating import PeriodUsage, credits_to_apply, rate, total
from schemas.plans import PlanVersion


def plan(*charges: dict[str, Any]) -> PlanVersion:
    return PlanVersion.model_validate({"plan": "test", "version": "1", "charges": list(charges)})


HYBRID = plan(
    {"kind": "platform_fee", "amount": "100.00"},
    {"kind": "usage", "meter": "agent_actions", "included": "10000", "unit_price": "0.01"},
)


def test_hybrid_plan_with_12500_actions_bills_exactly_125() -> None:
    lines = rate(HYBRID, PeriodUsage(meters={"agent_actions": D(12_500)}))
    assert [line.amount for line in lines] == [D("100.00"), D("25.00")]
    assert total(lines) == D("125.00")
    assert lines[1].included == 10_000 and lines[1].billable == 2_500


def test_usage_within_the_allowance_costs_only_the_fee() -> None:
    assert total(rate(HYBRID, PeriodUsage(meters={"agent_actions": D(9_000)}))) == D("100.00")


def test_seats() -> None:
    lines = rate(plan({"kind": "seats", "unit_price": "30"}), PeriodUsage(seats=D(12)))
    assert total(lines) == D("360.00")


def test_outcomes_per_unit_and_as_a_share_of_value() -> None:
    lines = rate(
        plan(
            {"kind": "outcome", "outcome_type": "invoice_extracted", "unit_price": "0.50"},
            {"kind": "outcome", "outcome_type": "deal_closed", "share_of_value": "0.10"},
        ),
        PeriodUsage(outcomes={"invoice_extracted": (D(40), D(0)), "deal_closed": (D(3), D("12345.67"))}),
    )
    # 40 × $0.50; 10% of $12,345.67 = $1,234.567, half-even to $1,234.57
    assert [line.amount for line in lines] == [D("20.00"), D("1234.57")]


def test_cost_pass_through_with_a_margin() -> None:
    lines = rate(
        plan({"kind": "pass_through", "margin": "0.20"}), PeriodUsage(usage_cost=D("10.123456789012"))
    )
    assert lines[0].exact == D("12.1481481468144")
    assert total(lines) == D("12.15")


TIERS = [
    {"up_to": "1000", "unit_price": "0.02"},
    {"up_to": "5000", "unit_price": "0.015"},
    {"up_to": None, "unit_price": "0.01"},
]


def test_graduated_tiers_price_each_unit_in_its_tier() -> None:
    lines = rate(
        plan({"kind": "usage", "meter": "tokens_k", "pricing": "graduated", "tiers": TIERS}),
        PeriodUsage(meters={"tokens_k": D(6_000)}),
    )
    assert total(lines) == D("90.00")  # 1,000 × 0.02 + 4,000 × 0.015 + 1,000 × 0.01


def test_volume_tiers_price_every_unit_at_the_reached_tier() -> None:
    lines = rate(
        plan({"kind": "usage", "meter": "tokens_k", "pricing": "volume", "tiers": TIERS}),
        PeriodUsage(meters={"tokens_k": D(6_000)}),
    )
    assert total(lines) == D("60.00")


def test_credits_pay_for_usage_but_not_for_fees() -> None:
    lines = rate(HYBRID, PeriodUsage(meters={"agent_actions": D(12_500)}))
    assert credits_to_apply(lines, D("10")) == D("10.00")
    assert credits_to_apply(lines, D("1000")) == D("25.00")  # the overage, not the $100 fee


def test_a_month_split_between_two_plans_prorates_fees_and_allowances() -> None:
    # 15 of November's 30 days: half the fee, half the 10,000 included actions.
    lines = rate(HYBRID, PeriodUsage(meters={"agent_actions": D(6_000)}), fraction=D(15) / D(30))
    assert [line.amount for line in lines] == [D("50.00"), D("10.00")]


def test_a_minimum_commitment_tops_up_instead_of_adding() -> None:
    committed = plan(
        {"kind": "platform_fee", "amount": "500", "minimum": True},
        {"kind": "usage", "meter": "agent_actions", "unit_price": "0.01"},
    )
    low = rate(committed, PeriodUsage(meters={"agent_actions": D(12_500)}))
    assert total(low) == D("500.00") and low[-1].amount == D("375.00")
    high = rate(committed, PeriodUsage(meters={"agent_actions": D(80_000)}))
    assert total(high) == D("800.00") and len(high) == 1


def test_lines_round_half_even_once_each() -> None:
    lines = rate(
        plan(
            {"kind": "usage", "meter": "a", "unit_price": "0.0125"},
            {"kind": "usage", "meter": "b", "unit_price": "0.0135"},
        ),
        PeriodUsage(meters={"a": D(10), "b": D(10)}),
    )
    assert [line.amount for line in lines] == [D("0.12"), D("0.14")]  # 0.125 → 0.12, 0.135 → 0.14
    assert total(lines) == D("0.26")


def test_tiers_must_rise_and_end_open() -> None:
    with pytest.raises(ValidationError, match="tier"):
        plan(
            {
                "kind": "usage",
                "meter": "x",
                "pricing": "graduated",
                "tiers": [{"up_to": "10", "unit_price": "1"}],
            }
        )


def test_seats_can_come_from_a_meter_of_active_users() -> None:
    seated = plan({"kind": "seats", "unit_price": "5", "meter": "active_users"})
    lines = rate(seated, PeriodUsage(meters={"active_users": D(37)}, seats=D(100)))
    assert total(lines) == D("185.00")  # the 37 who were active, not the 100 licensed


def test_a_price_per_completed_task() -> None:
    per_task = plan({"kind": "per_task", "unit_price": "0.75"})
    assert per_task.meters() == {"tasks_succeeded"}
    assert total(rate(per_task, PeriodUsage(meters={"tasks_succeeded": D(206)}))) == D("154.50")
