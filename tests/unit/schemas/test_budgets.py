"""Budget files: every budget checked before anything is published, one clear error per bad one."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas.budgets import Budget, BudgetFileError, OnUnreachable, load_budget_files, read_budget_file
from tests.factories import event

REPO = Path(__file__).resolve().parents[3]


def test_the_example_budget_file_loads() -> None:
    budgets = read_budget_file(REPO / "budgets" / "example.json")
    assert [b.budget_id for b in budgets] == ["acme-monthly", "acme-research-daily", "acme-each-agent-6h"]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"amount": "-5"}, "amount"),
        ({"thresholds": [80, 50]}, "thresholds must rise"),
        ({"scope": "customer_agent"}, "names its agent_id"),
        ({"scope": "agent", "agent_id": "bot"}, "scope customer_agent"),
        ({"scope": "user", "task_id": "t-1"}, "takes no task_id"),
        ({"period": "rolling_hours"}, "hours goes with period rolling_hours"),
        ({"limits": {"request_cost": "0.5", "request_costs": "1"}}, "request_costs"),
    ],
)
def test_a_bad_budget_names_the_file_the_budget_and_the_field(
    tmp_path: Path, fields: dict[str, object], problem: str
) -> None:
    path = tmp_path / "budgets.json"
    budget = {"budget_id": "acme-monthly", "customer_id": "acme", "period": "month", "amount": "10", **fields}
    path.write_text(json.dumps({"budgets": [budget]}))
    with pytest.raises(BudgetFileError) as caught:
        read_budget_file(path)
    message = str(caught.value)
    assert str(path) in message and "budgets[0] (acme-monthly)" in message and problem in message


def test_a_budget_id_given_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BudgetFileError, match="also in"):
        load_budget_files([REPO / "budgets" / "example.json", REPO / "budgets" / "example.json"])


def test_an_agent_budget_applies_to_each_agent_of_its_customer_only() -> None:
    budget = Budget.model_validate(
        {"budget_id": "b", "customer_id": "acme", "scope": "agent", "period": "day", "amount": "5"}
    )
    assert budget.subject(event("e1", agent="bot-1")) == "bot-1"
    assert budget.subject(event("e2", customer="globex")) is None


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("day", datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)),
        ("week", datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)),
        ("month", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
    ],
)
def test_periods_are_utc_calendar_days_iso_weeks_and_months(
    period: str, start: datetime, end: datetime
) -> None:
    budget = Budget.model_validate({"budget_id": "b", "customer_id": "acme", "period": period, "amount": "5"})
    assert budget.period_bounds(datetime(2026, 11, 20, 9, 30, tzinfo=UTC)) == (start, end)


def test_a_hard_budget_fails_closed_and_a_soft_one_open_unless_the_file_says_otherwise() -> None:
    def loaded(**fields: object) -> Budget:
        return Budget.model_validate({"budget_id": "b", "customer_id": "acme", "period": "day", "amount": "1",
                                      **fields})  # fmt: skip

    assert loaded(kind="hard").on_unreachable is OnUnreachable.CLOSED
    assert loaded().on_unreachable is OnUnreachable.OPEN
    assert loaded(kind="hard", on_unreachable="open").on_unreachable is OnUnreachable.OPEN
    again = loaded(kind="hard")
    assert Budget.model_validate_json(again.model_dump_json()) == again


def test_a_plan_revenue_goes_on_a_customer_budget_of_a_calendar_period_only() -> None:
    plan = {
        "budget_id": "acme-plan",
        "customer_id": "acme",
        "period": "month",
        "amount": "100",
        "revenue": "100",
    }
    assert Budget.model_validate({**plan, "min_margin_pct": 25}).min_margin_pct == 25
    for wrong, says in (
        ({"scope": "agent"}, "revenue (for the margin alert) goes on a customer budget"),
        ({"period": "rolling_hours", "hours": 6}, "revenue (for the margin alert) goes on a customer budget"),
        ({"revenue": None, "min_margin_pct": 25}, "min_margin_pct needs the revenue"),
        ({"min_margin_pct": 100}, "less than 100"),
    ):
        with pytest.raises(ValidationError, match=re.escape(says)):
            Budget.model_validate({**plan, **wrong})
