"""The dashboard's figures that need no database: projections, and which questions it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from costline.api.dashboard_figures import Filters, QueryError, SeriesQuery, month_end, projected

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
        (query(group="model"), "group must be one of category, agent, customer, not 'model'"),
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
