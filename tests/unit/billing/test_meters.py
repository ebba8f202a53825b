from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

from billing.meters import USAGE_COST, daily_source, meter_totals
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


class RecordingClient:
    """Answers every query with one row: not replayed (0), then 7 for each value asked for."""

    def __init__(self, replayed: int = 0) -> None:
        self.queries: list[tuple[str, dict[str, object]]] = []
        self.replayed = replayed

    def query(self, sql: str, parameters: dict[str, object]) -> SimpleNamespace:
        self.queries.append((sql, parameters))
        if "AS value_" in sql:
            return SimpleNamespace(result_rows=[(self.replayed, *[Decimal(7)] * sql.count("AS value_"))])
        return SimpleNamespace(result_rows=[("acme", None, Decimal(5))])


def test_an_invoices_meters_are_read_from_the_days_in_one_query() -> None:
    users = Meter(name="u", aggregation="unique_count", field="user_id")
    actions = Meter(name="a", aggregation="count", filter=MeterFilter(kinds=["llm", "tool"]))
    client = RecordingClient()
    assert meter_totals(client, [actions, users, USAGE_COST], OCT, NOV, "acme") == [7, 7, 7]  # type: ignore[arg-type]
    [(sql, parameters)] = client.queries
    assert "sumIf" in sql and "uniqExactIfMergeIf" in sql and "replayed" in sql
    assert parameters["kinds_0"] == ["llm", "tool"] and parameters["column_1"] == "user_ids"


def test_a_replayed_customer_or_a_meter_the_days_do_not_keep_reads_the_ledger_meter_by_meter() -> None:
    requests = Meter(name="r", aggregation="unique_count", field="request_id")
    client = RecordingClient()
    assert meter_totals(client, [USAGE_COST, requests], OCT, NOV, "acme") == [5, 5]  # type: ignore[arg-type]
    assert len(client.queries) == 3  # replayed days, then the two meters
    replayed = RecordingClient(replayed=1)
    assert meter_totals(replayed, [USAGE_COST], OCT, NOV, "acme") == [5]  # type: ignore[arg-type]
    assert "FROM ledger FINAL" in replayed.queries[-1][0]
