"""A cost question: what it may group by, and the parameters its one query is asked with."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billing.costs import CostQuery
from billing.exceptions import BillingError

DAY = datetime(2026, 11, 20, tzinfo=UTC)
NEXT_DAY = datetime(2026, 11, 21, tzinfo=UTC)


def test_acme_by_agent_per_minute_asks_for_acme_agents_and_minutes() -> None:
    query = CostQuery(DAY, NEXT_DAY, ("agent", "window"), customer="acme", window="1m")
    asked = query.parameters(after=None, limit=None)
    assert (asked["by_customer"], asked["by_agent"], asked["by_category"], asked["by_window"]) == (
        False, True, False, True,
    )  # fmt: skip
    assert (asked["customer"], asked["agent"], asked["window_s"], asked["paged"]) == ("acme", "", 60, False)


def test_a_page_starts_after_the_key_of_the_last_row_shown() -> None:
    query = CostQuery(DAY, NEXT_DAY, ("customer", "window"))
    asked = query.parameters(after=("globex", "", "", "2026-11-20T09:00:00+00:00"), limit=101)
    assert asked["after_customer"] == "globex" and asked["after_window"] == datetime(
        2026, 11, 20, 9, tzinfo=UTC
    )
    assert asked["paged"] and asked["limit"] == 101


@pytest.mark.parametrize(
    ("group_by", "window", "end", "why"),
    [
        (("team",), "1h", NEXT_DAY, "cannot group by team"),
        (("agent", "agent"), "1h", NEXT_DAY, "named twice"),
        (("agent",), "2h", NEXT_DAY, "1m, 1h, 1d"),
        (("agent",), "1h", DAY, "must be after"),
    ],
)
def test_a_question_that_cannot_be_answered_says_why(
    group_by: tuple[str, ...], window: str, end: datetime, why: str
) -> None:
    with pytest.raises(BillingError, match=why):
        CostQuery(DAY, end, group_by, window=window)
