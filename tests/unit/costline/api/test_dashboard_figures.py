"""The dashboard's figures that need no database: projections, and which questions it refuses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import get_args

import pytest

from costline.api.dashboard_figures import (
    LAYER_NAMES,
    LAYERS,
    Filters,
    QueryError,
    SeriesQuery,
    burn,
    month_end,
    months_back,
    projected,
    ratio,
    share_pct,
)
from schemas.events import UsageEvent

NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
SIZES = (60, 3600)


def test_the_projection_extends_the_month_to_date_rate_to_the_whole_month() -> None:
    ten_days_in = NOV_1 + timedelta(days=10)
    assert projected(Decimal("100"), ten_days_in) == Decimal("300")  # 30 days in November


def test_the_projection_is_exact_to_the_ledger_scale() -> None:
    assert projected(Decimal("1"), NOV_1 + timedelta(days=7)) == Decimal("4.285714285714")


def test_at_the_very_start_of_a_month_the_projection_is_what_is_spent() -> None:
    assert projected(Decimal("5"), NOV_1) == Decimal("5")


def test_a_month_ends_at_the_first_instant_of_the_next() -> None:
    assert month_end(datetime(2026, 12, 31, 23, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert month_end(datetime(2028, 2, 10, tzinfo=UTC)) == datetime(2028, 3, 1, tzinfo=UTC)


def query(days: float = 1, window_s: int = 3600, group: str = "category", agent: str = "") -> SeriesQuery:
    return SeriesQuery(NOV_1, NOV_1 + timedelta(days=days), window_s, group, Filters(agent=agent))


def test_a_year_of_hourly_windows_may_be_asked_for() -> None:
    query(days=366).check(SIZES)


@pytest.mark.parametrize(
    ("asked", "refusal"),
    [
        (query(group="sku"), "group must be one of category, agent, customer, model, not 'sku'"),
        (query(window_s=300), "window must be one of 60, 3600 seconds"),
        (query(days=0), "the range is empty: 'to' must be after 'from'"),
        (query(days=30, window_s=60), "more than 20,000 windows of 60 s"),
    ],
)
def test_questions_the_dashboard_cannot_answer_are_refused_with_one_line(
    asked: SeriesQuery, refusal: str
) -> None:
    with pytest.raises(QueryError, match=refusal):
        asked.check(SIZES)


def test_per_customer_rollups_answer_unless_an_agent_is_named_or_stacked() -> None:
    assert query().rollup
    assert not query(group="agent").rollup
    assert not query(agent="support-bot").rollup


def test_every_event_kind_shows_in_one_layer_of_an_agents_cost() -> None:
    kinds = {
        get_args(model.model_fields["kind"].annotation)[0] for model in get_args(get_args(UsageEvent)[0])
    }
    # A correction counts under the kind it corrects, so it is no layer of its own.
    assert set(LAYERS) == kinds - {"correction"}
    assert LAYER_NAMES == (
        "inference",
        "tools",
        "retrieval",
        "compute",
        "storage",
        "human review",
        "outcomes",
    )


def test_a_budget_burns_by_the_hour_and_projects_spend_over_the_elapsed_share_of_its_period() -> None:
    start, end = NOV_1, NOV_1 + timedelta(days=30)
    hours = [(NOV_1 + timedelta(hours=2), Decimal("10")), (NOV_1 + timedelta(days=9, hours=5), Decimal("30"))]
    state = burn(start, end, NOV_1 + timedelta(days=10), Decimal("100"), hours)
    assert state.spent == Decimal("40") and state.used_pct == Decimal("40.0")
    assert state.projected == Decimal("120")  # 40 in a third of the month
    assert state.cumulative == [
        (NOV_1 + timedelta(hours=3), Decimal("10")),
        (NOV_1 + timedelta(days=9, hours=6), Decimal("40")),
    ]


def test_a_budget_whose_period_is_over_projects_what_it_spent() -> None:
    state = burn(
        NOV_1, NOV_1 + timedelta(days=1), NOV_1 + timedelta(days=3), Decimal("5"), [(NOV_1, Decimal("7"))]
    )
    assert state.projected == state.spent == Decimal("7") and state.used_pct == Decimal("140.0")


def test_margins_cover_the_months_up_to_the_one_shown() -> None:
    assert months_back(date(2027, 2, 1), 3) == [(2026, 12), (2027, 1), (2027, 2)]


def test_success_and_value_per_dollar_are_none_without_tasks_or_cost() -> None:
    assert share_pct(2, 3) == Decimal("66.7") and share_pct(0, 0) is None
    assert (
        ratio(Decimal("5000"), Decimal("500")) == Decimal("10.00") and ratio(Decimal(1), Decimal(0)) is None
    )


def test_by_model_the_dashboard_answers_in_whole_days_and_without_agents() -> None:
    day = SeriesQuery(NOV_1, NOV_1 + timedelta(days=1), 3600, "model", Filters())
    day.check(SIZES)
    with pytest.raises(QueryError, match="not per agent"):
        SeriesQuery(NOV_1, NOV_1 + timedelta(days=1), 3600, "category", Filters(agent="a", model="m")).check(
            SIZES
        )
    with pytest.raises(QueryError, match="must be midnights"):
        SeriesQuery(NOV_1, NOV_1 + timedelta(hours=5), 3600, "model", Filters()).check(SIZES)
