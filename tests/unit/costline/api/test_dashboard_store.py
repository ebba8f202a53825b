"""The dashboard's reads: which query each runs, with which bound parameters, and what it makes
of the rows. The queries themselves run against ClickHouse in tests/e2e/test_dashboard.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from clickhouse_connect.driver.client import Client

from costline.api import dashboard_store
from costline.api.dashboard_figures import Filters, SeriesQuery
from costline.clickhouse import read_query

NOV_20 = datetime(2026, 11, 20, tzinfo=UTC)


@dataclass
class Answer:
    result_rows: list[tuple[Any, ...]]


@dataclass
class RecordingClient:
    """Answers each query with the next rows given, and remembers what it was asked."""

    answers: list[list[tuple[Any, ...]]]
    asked: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def query(self, sql: str, parameters: dict[str, Any]) -> Answer:
        self.asked.append((sql, parameters))
        return Answer(self.answers.pop(0))

    def as_client(self) -> Client:
        return cast(Client, self)


def test_a_series_reads_rollups_of_one_window_size_with_every_value_bound() -> None:
    client = RecordingClient([[("llm", NOV_20.replace(tzinfo=None), Decimal("1.5"))]])
    query = SeriesQuery(NOV_20, NOV_20 + timedelta(days=1), 3600, "category", Filters(customer="acme-corp"))

    points = dashboard_store.series(client.as_client(), query)

    assert points == [dashboard_store.Point("llm", NOV_20, Decimal("1.5"))]
    sql, parameters = client.asked[0]
    assert sql == read_query("dashboard_series")
    assert parameters == {
        "group": "category",
        "size": 3600,
        "from": NOV_20,
        "to": NOV_20 + timedelta(days=1),
        "rollup": True,
        "customer": "acme-corp",
        "agent": "",
        "category": "",
        "model": "",
    }


def test_spend_counts_the_current_hour_and_projects_the_month() -> None:
    client = RecordingClient([[(Decimal("2"), Decimal("10"))]])
    at = datetime(2026, 11, 11, 0, 30, tzinfo=UTC)  # ten days and half an hour into November

    spend = dashboard_store.spend(client.as_client(), Filters(agent="support-bot"), at)

    assert (spend.today, spend.month) == (Decimal("2"), Decimal("10"))
    assert spend.projected == Decimal("29.937629937630")  # 10 × 720 h / 240.5 h, half-even at 1e-12
    sql, parameters = client.asked[0]
    assert sql == read_query("dashboard_spend")
    assert parameters["day"] == datetime(2026, 11, 11, tzinfo=UTC)
    assert parameters["month"] == datetime(2026, 11, 1, tzinfo=UTC)
    assert parameters["at"] == datetime(2026, 11, 11, 1, tzinfo=UTC)
    assert parameters["rollup"] is False  # an agent is named: its own rows, not the rollups


def test_top_agents_never_read_the_rollups_whose_agent_is_a_star() -> None:
    client = RecordingClient([[("acme-corp", "support-bot", Decimal("3"), 7)]])

    top = dashboard_store.top(client.as_client(), "agent", NOV_20, NOV_20, Filters(), limit=10)

    assert top == [dashboard_store.Top("acme-corp", "support-bot", Decimal("3"), 7)]
    assert client.asked[0][1]["rollup"] is False
    assert client.asked[0][1]["limit"] == 10


def test_dead_letters_are_counted_by_code_with_their_samples() -> None:
    failed = NOV_20.replace(tzinfo=None)
    client = RecordingClient(
        [
            [("malformed_json", failed, "acme-corp", "not valid JSON", "{")],
            [("malformed_json", 1, failed), ("empty_message", 2, failed)],
        ]
    )

    codes = dashboard_store.dead_letters(client.as_client(), "", per_code=3, payload_chars=300)

    assert [(c.code, c.letters, len(c.samples)) for c in codes] == [
        ("malformed_json", 1, 1),
        ("empty_message", 2, 0),
    ]
    assert codes[0].samples[0] == dashboard_store.DeadLetterSample(NOV_20, "acme-corp", "not valid JSON", "{")
    assert client.asked[0][1] == {"customer": "", "per_code": 3, "payload_chars": 300}
