"""Two customers, three agents, every kind of event, a price change at noon.

Events go through the real Kafka broker and Faust worker into the real
ClickHouse; every amount below was worked out by hand from the list prices
in prices/ (see the comment on each event).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from billing.costs import customer_costs
from costline.config import Settings
from costline.dead_letters import replay_dead_letters
from costline.dev.demo import demo_price_versions
from costline.dev.harness import Pipeline
from schemas.events import UsageEvent
from schemas.prices import PriceVersion
from tests.factories import day_at, event

# (event, cost worked out by hand)
DAY: list[tuple[UsageEvent, str]] = [
    # 2,000 input at $2.50/M + 1,000 cached at $1.25/M + 1,000 output at $10/M
    (
        event(
            "a1",
            "llm",
            customer="acme",
            agent="support-bot",
            at=day_at("10:00:00"),
            provider="openai",
            model="gpt-4o",
            input_tokens=3000,
            cached_input_tokens=1000,
            output_tokens=1000,
        ),
        "0.01625",
    ),
    # the same call after the noon change: $2.00, $1.00, $8.00 per M
    (
        event(
            "a2",
            "llm",
            customer="acme",
            agent="support-bot",
            at=day_at("12:30:00"),
            provider="openai",
            model="gpt-4o",
            input_tokens=3000,
            cached_input_tokens=1000,
            output_tokens=1000,
        ),
        "0.013",
    ),
    # 2 Tavily calls at $0.008, half a minute before noon; then at $0.01 after it
    (
        event(
            "a3",
            "tool",
            customer="acme",
            agent="research-agent",
            at=day_at("11:59:30"),
            tool="tavily-search",
            calls=2,
        ),
        "0.016",
    ),
    (
        event(
            "a4",
            "tool",
            customer="acme",
            agent="research-agent",
            at=day_at("12:00:30"),
            tool="tavily-search",
            calls=2,
        ),
        "0.02",
    ),
    # 1,500 tokens at $0.02/M
    (
        event(
            "a5",
            "embedding",
            customer="acme",
            agent="research-agent",
            at=day_at("10:01:00"),
            model="text-embedding-3-small",
            tokens=1500,
        ),
        "0.00003",
    ),
    # 3 queries at $0.000016
    (
        event(
            "a6",
            "vector_query",
            customer="acme",
            agent="research-agent",
            at=day_at("10:01:10"),
            provider="pinecone",
            queries=3,
        ),
        "0.000048",
    ),
    # 1 s at $0.04/h = 0.0000111111…, half-even at the 12th place
    (
        event(
            "a7",
            "compute",
            customer="acme",
            agent="support-bot",
            at=day_at("10:02:00"),
            sku="fargate-1vcpu-2gb",
            seconds="1",
        ),
        "0.000011111111",
    ),
    # 4.5 min at $0.50
    (
        event(
            "a8",
            "human_review",
            customer="acme",
            agent="support-bot",
            at=day_at("12:31:00"),
            sku="support-agent",
            minutes="4.5",
        ),
        "2.25",
    ),
    (
        event(
            "a9",
            "outcome",
            customer="acme",
            agent="support-bot",
            at=day_at("12:32:00"),
            outcome_type="ticket_resolved",
        ),
        "0",
    ),
    # 20 GB for an hour: 20 × $0.023 / 730 = 0.000630136986301…
    (
        event(
            "a10",
            "storage",
            customer="acme",
            agent="research-agent",
            at=day_at("13:00:00"),
            sku="s3-standard",
            bytes=20 * 10**9,
            seconds="3600",
        ),
        "0.000630136986",
    ),
    # batch call: (2,000 × $3 + 6,000 × $0.30 + 2,000 × $3.75 + 1,000 × $15) / M, half off
    (
        event(
            "g1",
            "llm",
            customer="globex",
            agent="invoice-extractor",
            at=day_at("10:00:00"),
            provider="anthropic",
            model="claude-sonnet-4",
            input_tokens=10000,
            cached_input_tokens=6000,
            cache_write_tokens=2000,
            output_tokens=1000,
            reasoning_tokens=400,
            batch=True,
        ),
        "0.01515",
    ),
    # 5,000 × $0.15 + 500 × $0.60 per M
    (
        event(
            "g2",
            "llm",
            customer="globex",
            agent="invoice-extractor",
            at=day_at("12:05:00"),
            provider="openai",
            model="gpt-4o-mini",
            input_tokens=5000,
            output_tokens=500,
        ),
        "0.00105",
    ),
    (
        event(
            "g3",
            "outcome",
            customer="globex",
            agent="invoice-extractor",
            at=day_at("12:06:00"),
            outcome_type="invoice_extracted",
            value="120.50",
        ),
        "0",
    ),
    # one second before noon: old GPT-4o prices, 1,000 × $2.50 + 100 × $10 per M
    (
        event(
            "g4",
            "llm",
            customer="globex",
            agent="invoice-extractor",
            at=day_at("11:59:59"),
            provider="openai",
            model="gpt-4o",
            input_tokens=1000,
            output_tokens=100,
        ),
        "0.0035",
    ),
    # half an hour of an A10G at $1.006/h
    (
        event(
            "g5",
            "compute",
            customer="globex",
            agent="invoice-extractor",
            at=day_at("12:10:00"),
            sku="gpu-a10g",
            seconds="1800",
        ),
        "0.503",
    ),
]
ACME_TOTAL = Decimal("2.315969248097")
GLOBEX_TOTAL = Decimal("0.5227")


@pytest.fixture(scope="module")
def pipeline(services: Settings) -> Iterator[Pipeline]:
    """The shipped prices and, loaded explicitly, the demo's price change at noon."""
    p = Pipeline.create(services, "pipeline")
    p.load_prices(demo_price_versions(p.settings))
    p.start_worker()
    yield p
    p.close()


@pytest.fixture(scope="module")
def day(pipeline: Pipeline) -> Pipeline:
    events = [e for e, _ in DAY]
    pipeline.publish(events)
    pipeline.publish(events[:3])  # a producer retrying: same event_ids again
    pipeline.wait_for("SELECT count() FROM ledger FINAL WHERE customer_id IN ('acme', 'globex')", len(DAY))
    pipeline.wait_for(
        "SELECT sum(events) FROM cost_windows FINAL WHERE agent_id = '*' AND window_size = 60 "
        "AND customer_id IN ('acme', 'globex')",
        len(DAY),
    )
    return pipeline


def test_each_event_is_priced_by_the_version_in_force_when_it_happened(day: Pipeline) -> None:
    ledger = dict(day.rows("SELECT event_id, cost FROM ledger FINAL"))
    for sent, cost in DAY:
        assert ledger[sent.event_id] == Decimal(cost), sent.event_id
    versions = dict(day.rows("SELECT event_id, price_version FROM ledger FINAL WHERE kind = 'llm'"))
    assert versions["a1"] == versions["g4"] == "2024-10-01-list"
    assert versions["a2"] == "2026-11-20-midday"
    assert versions["g2"] == "2024-10-01-list"  # gpt-4o-mini did not change at noon


def test_customer_totals_to_the_last_digit(day: Pipeline) -> None:
    totals = dict(day.rows("SELECT customer_id, sum(cost) FROM ledger FINAL GROUP BY customer_id"))
    assert totals["acme"] == ACME_TOTAL
    assert totals["globex"] == GLOBEX_TOTAL
    windows = dict(
        day.rows(
            "SELECT customer_id, sum(cost) FROM cost_windows FINAL "
            "WHERE agent_id = '*' AND window_size = 3600 GROUP BY customer_id"
        )
    )
    assert windows["acme"] == ACME_TOTAL and windows["globex"] == GLOBEX_TOTAL


def test_window_aggregates_equal_sums_over_the_ledger(day: Pipeline) -> None:
    for size in (60, 3600):
        windows = day.rows(_query("window_totals"), size=size)
        from_ledger = day.rows(_query("ledger_windows"), size=size)
        assert windows == from_ledger
    hour = {
        (r[0], r[1]): r[2]
        for r in day.rows(
            "SELECT toHour(window_start), agent_id, cost FROM cost_windows FINAL "
            "WHERE customer_id = 'acme' AND category = 'tool' AND window_size = 3600"
        )
    }
    assert hour[(11, "research-agent")] == Decimal("0.016")
    assert hour[(12, "*")] == Decimal("0.02")


def test_a_duplicate_event_id_is_counted_once(day: Pipeline) -> None:
    assert day.scalar("SELECT count() FROM ledger WHERE event_id = 'a1'") == 1
    assert (
        day.scalar(
            "SELECT sum(events) FROM cost_windows FINAL WHERE customer_id = 'acme' AND agent_id = '*' "
            "AND window_size = 3600"
        )
        == 10
    )


def test_costs_command_groups_a_customers_costs(day: Pipeline) -> None:
    rows = customer_costs(
        day.db,
        "acme",
        datetime(2026, 11, 20, tzinfo=UTC),
        datetime(2026, 11, 21, tzinfo=UTC),
        ["category"],
    )
    by_category = {r.group[0]: r.cost for r in rows}
    assert by_category["llm"] == Decimal("0.02925")
    assert sum(by_category.values()) == ACME_TOTAL


def test_bad_events_are_dead_lettered_with_a_reason_and_replayable(day: Pipeline) -> None:
    good_before = event(
        "i1", "tool", customer="initech", agent="helpdesk", at=day_at("09:00:00"), tool="twilio-sms"
    )
    unpriced = event(
        "i2",
        "llm",
        customer="initech",
        agent="helpdesk",
        at=day_at("09:00:01"),
        provider="acme-ai",
        model="gpt-9",
        input_tokens=1000,
        output_tokens=500,
    )
    good_after = event(
        "i3", "tool", customer="initech", agent="helpdesk", at=day_at("09:00:02"), tool="twilio-sms", calls=2
    )
    invalid = orjson.dumps(
        {
            "kind": "llm",
            "event_id": "i4",
            "customer_id": "initech",
            "agent_id": "helpdesk",
            "occurred_at": "2026-11-20T09:00:03Z",
            "provider": "openai",
            "model": "gpt-4o",
            "input_tokens": -5,
            "output_tokens": 1,
        }
    )
    day.publish(
        [good_before, unpriced], raw=[(b"initech", b'{"kind": "llm", "event_'), (b"initech", invalid)]
    )
    day.publish([good_after])

    day.wait_for("SELECT sum(cost) FROM ledger FINAL WHERE customer_id = 'initech'", Decimal("0.024"))
    letters = {letter.code: letter for letter in day.dead_letters(count=3)}
    assert set(letters) == {"unpriceable", "malformed_json", "invalid_event"}
    assert "no llm price for sku 'gpt-9'" in letters["unpriceable"].reason
    assert "input_tokens" in letters["invalid_event"].reason
    assert letters["malformed_json"].value == b'{"kind": "llm", "event_'
    assert letters["unpriceable"].source_topic == day.settings.usage_topic
    assert day.scalar("SELECT count() FROM dead_letters") == 3

    # Once gpt-9 has a price, replaying the dead letters counts the event.
    day.load_prices(
        [
            PriceVersion.model_validate(
                {
                    "version": "gpt-9-launch",
                    "effective_from": "2026-01-01T00:00:00Z",
                    "prices": [
                        {"meter": "llm", "sku": "gpt-9", "input_per_mtok": "1.00", "output_per_mtok": "2.00"}
                    ],
                }
            )
        ]
    )
    deadline = time.monotonic() + 60
    total = None
    while time.monotonic() < deadline:
        asyncio.run(replay_dead_letters(day.settings, code="unpriceable"))
        time.sleep(3)
        total = day.scalar("SELECT sum(cost) FROM ledger FINAL WHERE customer_id = 'initech'")
        if total == Decimal("0.026"):  # + 1,000 × $1 + 500 × $2 per M
            break
    assert total == Decimal("0.026")


def _query(name: str) -> str:
    from costline.clickhouse import read_query

    return read_query(name)


def test_costs_cli_prints_json_and_table(
    day: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from costline.cli import main
    from costline.config import get_settings

    monkeypatch.setenv("COSTLINE_CLICKHOUSE_DATABASE", day.settings.clickhouse_database)
    get_settings.cache_clear()
    try:
        window = ["--from", "2026-11-20T00:00:00Z", "--to", "2026-11-21T00:00:00Z"]
        assert (
            main(["costs", "--customer", "globex", *window, "--group-by", "agent", "--format", "json"]) == 0
        )
        rows = orjson.loads(capsys.readouterr().out)
        assert rows == [
            {
                "agent": "invoice-extractor",
                "cost": "0.522700000000",
                "events": 5,
                "quantity": "19401.000000000000",
                "unit": "mixed",
            }
        ]
        assert main(["costs", "--customer", "globex", "--group-by", "category"]) == 0
        table = capsys.readouterr().out
        assert "llm" in table and "$0.522700" in table
    finally:
        get_settings.cache_clear()
