from datetime import UTC, datetime

from billing.meters import USAGE_COST, daily_source
from schemas.meters import Meter, MeterFilter

OCT = datetime(2026, 10, 1, tzinfo=UTC)
NOV = datetime(2026, 11, 1, tzinfo=UTC)


def test_whole_days_of_sums_counts_and_cost_read_the_daily_pre_aggregate() -> None:
    tokens = Meter(name="t", aggregation="sum", field="input_tokens", filter=MeterFilter(kinds=["llm"]))
    actions = Meter(name="a", aggregation="count", filter=MeterFilter(kinds=["llm", "tool"]))
    assert daily_source(tokens, OCT, NOV) == ("meter_days_usage", "input_tokens")
    assert daily_source(actions, OCT, NOV) == ("meter_days_usage", "events")
    assert daily_source(USAGE_COST, OCT, NOV) == ("meter_days_usage", "cost")


def test_unique_counts_merge_the_days_exact_states() -> None:
    users = Meter(name="u", aggregation="unique_count", field="user_id")
    assert daily_source(users, OCT, NOV) == ("meter_days_unique", "user_ids")


def test_what_the_days_do_not_keep_is_read_from_the_ledger() -> None:
    requests = Meter(name="r", aggregation="unique_count", field="request_id")
    tagged = Meter(name="g", aggregation="count", filter=MeterFilter(attributes={"team": "a"}))
    assert daily_source(requests, OCT, NOV) is None
    assert daily_source(tagged, OCT, NOV) is None
    assert daily_source(USAGE_COST, OCT, NOV.replace(hour=12)) is None
