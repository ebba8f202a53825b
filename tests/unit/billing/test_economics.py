"""Unit economics from hand-built inputs: what November 2026 earned against what it cost.

acme is on a plan that bills it $25.00 for November. Its support-bot did three
tasks: t1 (a $0.30 first attempt that failed, a $0.25 retry, a $0.05 tool call
and $2.00 of human review, then it succeeded), t2 ($0.40, succeeded) and t3
($0.60, never succeeded), plus $1.00 of compute outside any task. Its
research-agent did t4 ($0.40, succeeded). globex used $1.50 (t5, succeeded)
without a subscription; initech is subscribed ($22.00) and did nothing.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from billing.economics import (
    ConversationHour,
    EconomicsInputs,
    EconomicsReport,
    EconomicsRow,
    Usage,
    break_even_volume,
    economics,
    split,
)
from billing.exceptions import BillingError
from billing.periods import Period

NOVEMBER = Period.parse("2026-11")  # 30 days, 720 hours

SUPPORT_BOT = Usage(cost=D("4.60"), tasks=3, successful_tasks=2, task_cost=D("3.60"))
RESEARCH_AGENT = Usage(cost=D("0.40"), tasks=1, successful_tasks=1, task_cost=D("0.40"))
ACME = Usage(cost=D("5.00"), tasks=4, successful_tasks=3, task_cost=D("4.00"))
GLOBEX = Usage(cost=D("1.50"), tasks=1, successful_tasks=1, task_cost=D("1.50"))


def november(hours: list[ConversationHour] | None = None) -> EconomicsInputs:
    return EconomicsInputs(
        period=NOVEMBER,
        customers={"acme": ACME, "globex": GLOBEX},
        agents={
            "acme": [("research-agent", RESEARCH_AGENT), ("support-bot", SUPPORT_BOT)],
            "globex": [("helper", GLOBEX)],
        },
        invoice_totals={"acme": D("25.00"), "initech": D("22.00")},
        conversation_hours=hours or [],
    )


def rows(report: EconomicsReport) -> dict[tuple[str, str | None], EconomicsRow]:
    return {(r.customer_id, r.agent_id): r for r in report.rows}


def test_margin_is_revenue_less_cost_and_its_share_of_revenue() -> None:
    report = economics(november())
    acme, globex, initech = (rows(report)[(c, None)] for c in ("acme", "globex", "initech"))

    assert (acme.revenue, acme.cost, acme.margin, acme.margin_pct) == (D("25.00"), D(5), D(20), D("80.0000"))
    # Usage without a subscription earns nothing: no margin percentage of nothing.
    assert (globex.revenue, globex.margin, globex.margin_pct) == (D(0), D("-1.50"), None)
    assert (initech.revenue, initech.cost, initech.margin_pct) == (D("22.00"), D(0), D("100.0000"))
    # 40.50 / 47.00 = 86.170212...%, to 4 places.
    assert (report.total.margin, report.total.margin_pct) == (D("40.50"), D("86.1702"))


def test_cost_per_successful_task_carries_failed_attempts_retries_and_human_review() -> None:
    bot = rows(economics(november(), "agent"))[("acme", "support-bot")]

    # (0.30 + 0.25 + 0.05 + 2.00) + 0.40 + 0.60 = 3.60 over the 2 tasks that succeeded.
    assert (bot.task_cost, bot.successful_tasks) == (D("3.60"), 2)
    assert bot.cost_per_successful_task == D("1.80")


def test_no_successful_task_has_no_cost_per_successful_task() -> None:
    initech = rows(economics(november()))[("initech", None)]

    assert initech.cost_per_successful_task is None


def test_revenue_is_split_between_agents_by_their_share_of_the_customers_cost() -> None:
    by_agent = rows(economics(november(), "agent"))

    assert by_agent[("acme", "support-bot")].revenue == D(23)  # 4.60 / 5.00 of 25.00
    assert by_agent[("acme", "research-agent")].revenue == D(2)
    assert by_agent[("initech", None)].revenue == D("22.00")  # no cost to split by: shown, not lost


def test_a_split_adds_up_to_the_revenue_exactly() -> None:
    shares = split(D("10.00"), [D(1), D(1), D(1)])

    assert shares == [D("3.333333333333"), D("3.333333333333"), D("3.333333333334")]
    assert sum(shares) == D("10.00")


def test_cost_per_conversation_shares_each_hours_infrastructure_among_its_conversations() -> None:
    # 3 conversations started at 10:00 on the 3rd (direct cost 4.50), 2 at 09:00 on the 4th (1.00).
    hours = [ConversationHour(3, D("4.50")), ConversationHour(2, D("1.00"))]

    conversations = economics(november(hours), infra_cost_per_hour=D("3.00")).conversations

    assert (conversations.conversations, conversations.hours) == (5, 2)
    assert conversations.infra_cost == D("6.00")  # only hours in which a conversation started
    assert conversations.cost_per_conversation == (D("4.50") + D("1.00") + D("6.00")) / 5 == D("2.30")


def test_no_conversation_has_no_cost_per_conversation() -> None:
    assert economics(november(), infra_cost_per_hour=D(3)).conversations.cost_per_conversation is None


def test_break_even_is_the_volume_at_which_agents_cost_what_a_human_does() -> None:
    report = economics(november(), "agent", infra_cost_per_hour=D("3.00"), human_cost=D("4.00"))

    assert report.fixed_cost == D("2160.00")  # 3.00 an hour × 720 hours
    # (4.00 + 1.50) / 4 successful tasks = 1.375 each; 2,160 / (4.00 - 1.375) = 822.86, rounded up.
    assert report.total.cost_per_successful_task == D("1.375")
    assert report.total.break_even_tasks == 823
    assert rows(report)[("acme", "research-agent")].break_even_tasks == 600  # 2,160 / 3.60 exactly


def test_break_even_is_never_when_a_human_costs_no_more_per_task() -> None:
    assert break_even_volume(D(2160), D("1.375"), D("5.50"), 4) is None  # H = c
    assert break_even_volume(D(2160), D("1.00"), D("5.50"), 4) is None  # H < c
    assert break_even_volume(D(2160), D("4.00"), D(0), 0) is None  # c unknown
    assert break_even_volume(D(2160), None, D("5.50"), 4) is None  # no human cost given


def test_a_negative_amount_or_an_unknown_grouping_is_refused() -> None:
    with pytest.raises(BillingError, match="human cost"):
        economics(november(), human_cost=D(-1))
    with pytest.raises(BillingError, match="infrastructure cost"):
        economics(november(), infra_cost_per_hour=D("NaN"))
    with pytest.raises(BillingError, match="by customer or by agent"):
        economics(november(), "team")  # type: ignore[arg-type]
