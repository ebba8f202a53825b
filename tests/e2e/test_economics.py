"""Unit economics for November 2026, from ledger rows written straight into a real ClickHouse.

Every figure below was worked out by hand. The plan: a $22.00 platform fee
and $0.50 per agent action (an LLM or tool call), nothing included.

acme (subscribed) in November:

    support-bot    t1  03 10:05  llm      0.30   first attempt
                   t1  03 10:06  outcome  -      failed
                   t1  03 10:10  llm      0.25   retry
                   t1  03 10:12  tool     0.05
                   t1  03 10:20  review   2.00   a human checks the retry
                   t1  03 10:25  outcome  -      succeeded            t1 cost 2.60
                   t2  03 10:40  llm      0.40
                   t2  03 10:41  outcome  -      succeeded            t2 cost 0.40
                   t3  04 09:00  llm      0.60
                   t3  04 10:15  outcome  -      failed, never retried t3 cost 0.60
                   --  05 11:00  compute  1.00   no task
    research-agent t4  04 09:30  tool     0.40
                   t4  04 09:31  outcome  -      succeeded            t4 cost 0.40

    6 actions: revenue 22.00 + 6 × 0.50 = 25.00; cost 5.00; margin 20.00 (80%).
    By agent: support-bot costs 4.60 of 5.00, so it is attributed 23.00 of
    the revenue, research-agent 0.40 → 2.00. support-bot's task cost is
    2.60 + 0.40 + 0.60 = 3.60 over 2 successful tasks: 1.80 per success.

globex (usage, no subscription): t5 03 10:30 llm 1.50, succeeded. Revenue 0.
initech (subscribed, no usage): revenue 22.00, cost 0.

Rows on Oct 31 23:59:59 and Dec 1 00:00 lie outside November.

Conversations: t1, t2, t5 start in the 03 10:00 hour, t3, t4 in the 04 09:00
hour (t3's outcome at 10:15 does not make 10:00 a conversation hour): 5
conversations, 2 hours, direct cost 2.60 + 0.40 + 0.60 + 0.40 + 1.50 = 5.50.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from billing import economics_store, store
from billing.economics import By, EconomicsReport, EconomicsRow
from billing.economics import economics as figures
from billing.invoices import BillingContext, finalize
from billing.periods import Period
from billing.render import render_economics
from costline.clickhouse import open_client
from costline.config import Settings, get_settings
from costline.migrations import migrate
from schemas.plans import BillingFile
from tests.factories import run_command

NOVEMBER = Period.parse("2026-11")
DECEMBER = Period.parse("2026-12")
INFRA = D("3.00")  # per hour

BILLING = {
    "meters": [
        {"name": "agent_actions", "aggregation": "count", "filter": {"kinds": ["llm", "tool"]}},
    ],
    "plans": [
        {"plan": "pro", "version": "1", "charges": [
            {"kind": "platform_fee", "amount": "22.00"},
            {"kind": "usage", "meter": "agent_actions", "unit_price": "0.50"},
        ]},
    ],
    "subscriptions": [
        {"customer_id": "acme", "plan": "pro", "version": "1", "starts_on": "2026-11-01"},
        {"customer_id": "initech", "plan": "pro", "version": "1", "starts_on": "2026-11-01"},
    ],
}  # fmt: skip

# A writer names the kind and cost by their "_sent" columns (sql/ddl/025_ledger_implied_columns.sql).
COLUMNS = ["event_id_sent", "occurred_at", "customer_id", "agent_id", "task_id", "kind_sent", "cost_sent",
           "outcome_type", "success"]  # fmt: skip


def row(
    event_id: str, at: str, customer: str, agent: str, task: str, kind: str, cost: str = "0", ok: bool = True
) -> list[Any]:
    when = datetime.fromisoformat(at).replace(tzinfo=UTC)
    outcome_type = "resolution" if kind == "outcome" else ""
    return [event_id, when, customer, agent, task, kind, D(cost), outcome_type, ok]


LEDGER = [
    row("a1", "2026-11-03T10:05:00", "acme", "support-bot", "t1", "llm", "0.30"),
    row("a2", "2026-11-03T10:06:00", "acme", "support-bot", "t1", "outcome", ok=False),
    row("a3", "2026-11-03T10:10:00", "acme", "support-bot", "t1", "llm", "0.25"),
    row("a4", "2026-11-03T10:12:00", "acme", "support-bot", "t1", "tool", "0.05"),
    row("a5", "2026-11-03T10:20:00", "acme", "support-bot", "t1", "human_review", "2.00"),
    row("a6", "2026-11-03T10:25:00", "acme", "support-bot", "t1", "outcome"),
    row("a7", "2026-11-03T10:40:00", "acme", "support-bot", "t2", "llm", "0.40"),
    row("a8", "2026-11-03T10:41:00", "acme", "support-bot", "t2", "outcome"),
    row("a9", "2026-11-04T09:00:00", "acme", "support-bot", "t3", "llm", "0.60"),
    row("a10", "2026-11-04T10:15:00", "acme", "support-bot", "t3", "outcome", ok=False),
    row("a11", "2026-11-05T11:00:00", "acme", "support-bot", "", "compute", "1.00"),
    row("a12", "2026-11-04T09:30:00", "acme", "research-agent", "t4", "tool", "0.40"),
    row("a13", "2026-11-04T09:31:00", "acme", "research-agent", "t4", "outcome"),
    row("g1", "2026-11-03T10:30:00", "globex", "helper", "t5", "llm", "1.50"),
    row("g2", "2026-11-03T10:35:00", "globex", "helper", "t5", "outcome"),
    # Just outside the month on either side.
    row("o1", "2026-10-31T23:59:59.999999", "acme", "support-bot", "t0", "llm", "9.99"),
    row("o2", "2026-12-01T00:00:00", "acme", "support-bot", "t9", "llm", "9.99"),
]


@pytest.fixture(scope="module")
def settings(services: Settings) -> Iterator[Settings]:
    database = f"costline_test_econ_{secrets.token_hex(4)}"
    settings = get_settings().model_copy(update={"clickhouse_database": database})
    migrate(settings, log=lambda _: None)
    yield settings
    open_client(settings, database="").command(f"DROP DATABASE IF EXISTS `{database}`")


@pytest.fixture(scope="module")
def client(settings: Settings) -> Client:
    client = open_client(settings)
    store.load(client, BillingFile.model_validate(BILLING))
    client.insert("ledger", LEDGER, column_names=COLUMNS)
    return client


def economics(
    client: Client,
    period: Period,
    by: By = "customer",
    infra_cost_per_hour: D = D(0),
    human_cost: D | None = None,
) -> EconomicsReport:
    """The report as `costline economics` computes it: read from ClickHouse, then the figures."""
    return figures(economics_store.read(client, period), by, infra_cost_per_hour, human_cost)


def by_key(report: EconomicsReport) -> dict[tuple[str, str | None], EconomicsRow]:
    return {(r.customer_id, r.agent_id): r for r in report.rows}


def test_revenue_cost_and_margin_per_customer(client: Client) -> None:
    report = economics(client, NOVEMBER, "customer")
    rows = by_key(report)
    assert list(rows) == [("acme", None), ("globex", None), ("initech", None)]

    acme = rows[("acme", None)]
    assert (acme.revenue, acme.cost, acme.margin, acme.margin_pct) == (D("25.00"), D(5), D(20), D("80.0000"))
    assert (acme.tasks, acme.successful_tasks, acme.task_cost) == (4, 3, D("4.00"))

    globex = rows[("globex", None)]  # used the product without a subscription
    assert (globex.revenue, globex.cost, globex.margin, globex.margin_pct) == (
        D(0),
        D("1.50"),
        D("-1.50"),
        None,
    )

    initech = rows[("initech", None)]  # subscribed, never used it
    assert (initech.revenue, initech.cost, initech.margin_pct) == (D("22.00"), D(0), D("100.0000"))

    total = report.total
    assert (total.revenue, total.cost, total.margin) == (D("47.00"), D("6.50"), D("40.50"))
    # 40.50 / 47.00 = 86.170212...%
    assert total.margin_pct == D("86.1702")


def test_revenue_is_attributed_to_agents_by_their_share_of_the_customers_cost(client: Client) -> None:
    rows = by_key(economics(client, NOVEMBER, "agent"))
    assert list(rows) == [
        ("acme", "research-agent"),
        ("acme", "support-bot"),
        ("globex", "helper"),
        ("initech", None),
    ]
    assert (rows[("acme", "support-bot")].revenue, rows[("acme", "support-bot")].cost) == (D(23), D("4.60"))
    assert (rows[("acme", "research-agent")].revenue, rows[("acme", "research-agent")].cost) == (
        D(2),
        D("0.40"),
    )
    assert rows[("acme", "support-bot")].margin_pct == rows[("acme", "research-agent")].margin_pct == 80
    # No agent cost to split by: initech's revenue is shown, not lost.
    assert rows[("initech", None)].revenue == D("22.00")


def test_cost_per_successful_task_counts_failed_attempts_retries_and_human_review(client: Client) -> None:
    rows = by_key(economics(client, NOVEMBER, "agent"))
    bot = rows[("acme", "support-bot")]
    assert (bot.tasks, bot.successful_tasks) == (3, 2)
    # t1: 0.30 failed attempt + 0.25 retry + 0.05 tool + 2.00 human review; t2 0.40; t3 0.60 never
    # succeeded. The compute without a task is not a task's cost. 3.60 / 2 successes.
    assert bot.task_cost == D("3.60")
    assert bot.cost_per_successful_task == D("1.80")
    research = rows[("acme", "research-agent")]
    assert (research.tasks, research.successful_tasks, research.cost_per_successful_task) == (1, 1, D("0.40"))


def test_cost_per_conversation_amortizes_infra_per_hour(client: Client) -> None:
    conversations = economics(client, NOVEMBER, "customer", infra_cost_per_hour=INFRA).conversations
    assert (conversations.conversations, conversations.hours) == (5, 2)
    assert conversations.direct_cost == D("5.50")
    assert conversations.infra_cost == D("6.00")
    # Per conversation: t1 2.60 + 3.00/3, t2 0.40 + 1.00, t5 1.50 + 1.00 (10:00 on the 3rd);
    # t3 0.60 + 3.00/2, t4 0.40 + 1.50 (09:00 on the 4th): 3.60 + 1.40 + 2.50 + 2.10 + 1.90 = 11.50.
    assert conversations.cost_per_conversation == D("11.50") / 5 == D("2.30")


def test_break_even_volume_against_a_human(client: Client) -> None:
    report = economics(client, NOVEMBER, "agent", infra_cost_per_hour=INFRA, human_cost=D("4.00"))
    # Fixed cost: 3.00 an hour × 720 hours in November = 2,160.00.
    assert report.fixed_cost == D("2160.00")
    # Overall: (2.60 + 0.40 + 0.60 + 0.40 + 1.50) / 4 successful tasks = 1.375 per task;
    # 2,160 / (4.00 - 1.375) = 822.86, rounded up.
    assert report.total.cost_per_successful_task == D("1.375")
    assert report.total.break_even_tasks == 823
    rows = by_key(report)
    assert rows[("acme", "support-bot")].break_even_tasks == 982  # 2,160 / (4.00 - 1.80) = 981.8
    assert rows[("acme", "research-agent")].break_even_tasks == 600  # 2,160 / 3.60 exactly
    assert rows[("initech", None)].break_even_tasks is None  # no successful task to cost


def test_break_even_is_never_when_the_human_is_cheaper(client: Client) -> None:
    report = economics(client, NOVEMBER, "agent", infra_cost_per_hour=INFRA, human_cost=D("1.00"))
    rows = by_key(report)
    assert report.total.break_even_tasks is None  # 1.00 <= 1.375
    assert rows[("acme", "support-bot")].break_even_tasks is None  # 1.00 <= 1.80
    assert rows[("acme", "research-agent")].break_even_tasks == 3600  # 2,160 / 0.60: this one pays
    # A human exactly as cheap as the agents never pays back the fixed cost either.
    assert economics(client, NOVEMBER, "agent", INFRA, D("1.375")).total.break_even_tasks is None
    text = render_economics(report, "table")
    assert "never (a human costs no more per task)" in text


def test_renderings(client: Client) -> None:
    report = economics(client, NOVEMBER, "agent", infra_cost_per_hour=INFRA, human_cost=D("4.00"))
    document = json.loads(render_economics(report, "json"))
    bot = next(r for r in document["rows"] if r["agent_id"] == "support-bot")
    # Money as strings, exact: never floats.
    assert D(bot["revenue"]) == 23 and isinstance(bot["revenue"], str)
    assert D(bot["cost_per_successful_task"]) == D("1.80")
    assert document["total"]["break_even"] == "823"
    assert D(document["conversations"]["cost_per_conversation"]) == D("2.30")
    assert document["break_even"]["successful_tasks"] == 823

    table = render_economics(report, "table")
    assert "$2.300000 per conversation" in table
    assert "-> 823 successful tasks in 2026-11" in table
    support = next(line for line in table.splitlines() if "support-bot" in line)
    assert support.split() == ["acme", "support-bot", "$23.00", "$4.600000", "$18.400000", "80.00%",
                               "3", "2", "$1.800000", "982"]  # fmt: skip
    assert "(unattributed)" in table

    lines = render_economics(report, "csv").splitlines()
    assert lines[0].startswith("customer_id,agent_id,revenue,cost,margin,margin_pct,tasks,")
    assert lines[-1].startswith("TOTAL,,47.00,6.5") and lines[-1].endswith(",823,5,2.300000000000")


def test_a_finalized_invoice_is_the_revenue_whatever_arrives_later(client: Client) -> None:
    ctx = BillingContext.load(client)
    assert finalize(ctx, "initech", DECEMBER).total == D("22.00")
    client.insert(
        "ledger",
        [row("i1", "2026-12-02T08:00:00", "initech", "bot", "", "llm", "0.10")],
        column_names=COLUMNS,
    )
    initech = by_key(economics(client, DECEMBER, "customer"))[("initech", None)]
    # The draft would now be 22.50; the stored invoice says 22.00.
    assert (initech.revenue, initech.cost) == (D("22.00"), D("0.10"))


def test_the_command(settings: Settings, client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["economics", "--period", "2026-11", "--infra-cost-per-hour", "3", "--human-cost", "4"]
    assert run_command(settings, *argv, "--format", "json") == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["period"], document["by"], document["total"]["break_even_tasks"]) == (
        "2026-11",
        "customer",
        823,
    )


def test_the_command_refuses_a_negative_human_cost_and_an_unknown_grouping(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        run_command(settings, "economics", "--period", "2026-11", "--human-cost", "-1")
    assert refused.value.code == 2
    assert "--human-cost" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        run_command(settings, "economics", "--period", "2026-11", "--by", "team")
    assert refused.value.code == 2
    assert "--by: invalid choice: 'team'" in capsys.readouterr().err
