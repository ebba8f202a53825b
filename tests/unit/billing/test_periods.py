"""A month is cut into the days each subscription covers."""

from __future__ import annotations

from datetime import date

import pytest

from billing.exceptions import BillingError
from billing.periods import Period, segments
from schemas.plans import Subscription


def sub(starts_on: str, plan: str = "team") -> Subscription:
    return Subscription(customer_id="acme", plan=plan, version="1", starts_on=date.fromisoformat(starts_on))


NOVEMBER = Period.parse("2026-11")


def test_a_month_is_its_utc_days() -> None:
    assert (NOVEMBER.days, NOVEMBER.first_day, NOVEMBER.end_day) == (30, date(2026, 11, 1), date(2026, 12, 1))
    assert Period.parse("2028-02").days == 29
    with pytest.raises(BillingError, match="2026-11"):
        Period.parse("November")


def test_a_customer_who_starts_mid_month_pays_from_that_day() -> None:
    (only,) = segments([sub("2026-11-21")], NOVEMBER)
    assert (only.first, only.days) == (date(2026, 11, 21), 10)


def test_a_plan_change_splits_the_month_and_earlier_plans_end_before_it() -> None:
    parts = segments([sub("2026-11-16", "growth"), sub("2026-09-01", "starter")], NOVEMBER)
    assert [(p.subscription.plan, p.first.day, p.days) for p in parts] == [
        ("starter", 1, 15),
        ("growth", 16, 15),
    ]


def test_subscriptions_outside_the_month_do_not_bill_it() -> None:
    assert segments([sub("2026-12-01")], NOVEMBER) == []
    assert segments([], NOVEMBER) == []
