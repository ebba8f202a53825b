"""The gate's book: what a budget has left, who may spend it, and when a hold goes away."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from costline.gate.reservations import ReservationBook, TooManyReservations
from schemas.budgets import Budget, OnUnreachable
from schemas.gate import GateCheck, LiveSpend, PartitionMark
from streams.spend_rules import BudgetBook
from tests.fakes import Clock

NOON = "2026-11-20T12:00:00Z"


def budget(budget_id: str = "acme-day", **fields: Any) -> Budget:
    return Budget.model_validate(
        {"budget_id": budget_id, "customer_id": "acme", "period": "day", "amount": "1.00", "kind": "hard",
         **fields}
    )  # fmt: skip


def gate(*budgets: Budget, clock: Clock | None = None) -> ReservationBook:
    ids = (f"res_{n:024x}" for n in itertools.count(1))
    return ReservationBook(
        BudgetBook(budgets), ttl_s=60, clock=clock or Clock(NOON), new_id=lambda: next(ids)
    )


def ask(estimate: str, agent: str = "researcher", customer: str = "acme", **more: Any) -> GateCheck:
    return GateCheck(customer_id=customer, agent_id=agent, estimate=Decimal(estimate), **more)


def counted(budget_id: str, spend: str, position: int, *settled: str, **fields: Any) -> LiveSpend:
    return LiveSpend.model_validate(
        {"budget_id": budget_id, "subject": "", "period_start": "2026-11-20T00:00:00Z", "spend": spend,
         "partition": 0, "position": position, "settled": settled, "published_at": NOON, **fields}
    )  # fmt: skip


def test_twenty_agents_asking_ten_cents_of_a_hard_dollar_get_exactly_ten_yeses() -> None:
    book = gate(budget())
    answers = [book.check(ask("0.10", agent=f"agent-{n}")) for n in range(20)]

    allowed = [a for a in answers if a.allowed]
    assert len(allowed) == 10
    assert allowed[-1].remaining == Decimal("0.00")
    assert {a.reservation_id for a in allowed} == set(book.reservations)
    refused = answers[10]
    assert refused.reservation_id is None and refused.remaining == Decimal("0.00")
    assert refused.reason.startswith("denied: hard budget acme-day has 0.000000 left")


def test_usage_counted_by_the_worker_replaces_its_hold_with_the_real_spend() -> None:
    book = gate(budget())
    first, second = book.check(ask("0.40")), book.check(ask("0.40"))
    assert second.remaining == Decimal("0.20")

    book.apply_spend(counted("acme-day", "0.35", 1 << 16, str(first.reservation_id)))  # cheaper than asked

    after = book.check(ask("0"))
    assert after.remaining == Decimal("0.25")  # 1.00 − 0.35 spent − 0.40 still held by the second
    assert [(s.spent, s.reserved) for s in after.budgets] == [(Decimal("0.35"), Decimal("0.40"))]
    assert first.reservation_id not in book.reservations


def test_a_replayed_or_older_figure_never_moves_the_spend_back() -> None:
    book = gate(budget())
    book.apply_spend(counted("acme-day", "0.50", 2 << 16))
    book.apply_spend(counted("acme-day", "0.30", 1 << 16))  # a zombie worker's late send
    book.apply_spend(counted("acme-day", "0.50", 2 << 16))  # the same batch, replayed

    assert book.check(ask("0")).remaining == Decimal("0.50")


def test_an_expired_reservation_frees_its_amount() -> None:
    clock = Clock(NOON)
    book = gate(budget(), clock=clock)
    held = book.check(ask("0.90", ttl_s=30))
    assert not book.check(ask("0.20")).allowed

    clock.advance(30)

    assert book.check(ask("0.20")).allowed
    assert held.reservation_id not in book.reservations
    assert held.expires_at == datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)


def test_a_released_reservation_frees_its_amount_but_only_for_its_own_customer() -> None:
    book = gate(budget())
    held = book.check(ask("0.90"))
    assert held.reservation_id is not None

    assert book.release(held.reservation_id, customer_id="globex") is None
    assert book.release(held.reservation_id, customer_id="acme") == Decimal("0.90")
    assert book.release(held.reservation_id) is None  # gone
    assert book.check(ask("1.00")).allowed


def test_a_soft_budget_always_allows_and_says_low_under_a_fifth_left() -> None:
    book = gate(budget(kind="soft"))
    first = book.check(ask("0.70"))
    second = book.check(ask("0.70"))

    assert (first.allowed, first.low) == (True, False)
    assert (second.allowed, second.low, second.remaining) == (True, True, Decimal("-0.40"))
    assert second.fail_mode is OnUnreachable.OPEN


def test_the_tightest_budget_answers_and_any_hard_one_can_refuse() -> None:
    book = gate(
        budget("acme-month", period="month", amount="100", kind="soft"),
        budget("researcher-day", scope="customer_agent", agent_id="researcher", amount="2"),
    )
    allowed = book.check(ask("1.70"))
    assert (allowed.budget_id, allowed.remaining, allowed.low) == ("researcher-day", Decimal("0.30"), True)
    assert allowed.fail_mode is OnUnreachable.CLOSED  # a hard budget fails closed unless it says otherwise

    refused = book.check(ask("1.00"))
    assert (refused.allowed, refused.budget_id) == (False, "researcher-day")
    assert book.check(ask("1.00", agent="writer")).budget_id == "acme-month"  # not the researcher's budget


def test_each_agent_has_its_own_allowance_under_a_per_agent_budget() -> None:
    book = gate(budget("each-agent", scope="agent"))
    assert book.check(ask("1.00", agent="a")).allowed
    assert book.check(ask("1.00", agent="b")).allowed
    assert not book.check(ask("0.01", agent="a")).allowed


def test_no_budget_means_allowed_with_nothing_reserved() -> None:
    decision = gate(budget()).check(ask("5", customer="globex"))
    assert (decision.allowed, decision.remaining, decision.reservation_id) == (True, None, None)
    assert decision.reason == "no budget applies to customer globex, agent researcher"


def test_a_new_period_starts_at_nothing() -> None:
    book = gate(budget())
    book.apply_spend(counted("acme-day", "0.95", 1, period_start="2026-11-19T00:00:00Z"))  # yesterday
    assert book.check(ask("0")).remaining == Decimal("1.00")


def test_a_rolling_budget_sums_only_the_hours_of_its_window() -> None:
    book = gate(budget("acme-3h", period="rolling_hours", hours=3))
    hour = int(datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp())
    hourly = {hour - 3 * 3600: "0.50", hour - 2 * 3600: "0.20", hour: "0.10"}  # the first is out
    book.apply_spend(counted("acme-3h", "0.80", 1, hourly=hourly))
    assert book.check(ask("0")).remaining == Decimal("0.70")


def test_an_overspent_hard_budget_refuses_even_a_free_call() -> None:
    book = gate(budget())
    book.apply_spend(counted("acme-day", "1.20", 1))
    refused = book.check(ask("0"))
    assert (refused.allowed, refused.remaining) == (False, Decimal("-0.20"))


def test_a_customer_holds_a_bounded_number_of_open_reservations() -> None:
    book = gate(budget(kind="soft"))
    book.max_open_per_customer = 2
    first = book.check(ask("0.01"))
    book.check(ask("0.01"))
    with pytest.raises(TooManyReservations, match="customer acme holds 2 open reservations"):
        book.check(ask("0.01"))
    assert book.check(ask("0")).allowed  # asking without reserving still answers
    assert first.reservation_id is not None and book.release(first.reservation_id) is not None
    assert book.check(ask("0.01")).allowed


def test_spend_is_as_fresh_as_the_last_caught_up_mark_of_its_partition() -> None:
    clock = Clock(NOON)
    book = gate(budget(), clock=clock)
    book.apply_spend(counted("acme-day", "0.10", 1))  # published at noon
    clock.advance(60)
    assert book.check(ask("0")).spend_age_s == 60

    book.apply_mark(PartitionMark(partition=0, behind=3, at=datetime(2026, 11, 20, 12, 0, 55, tzinfo=UTC)))
    assert book.check(ask("0")).spend_age_s == 60  # a worker behind vouches for nothing newer

    caught_up = datetime(2026, 11, 20, 12, 0, 58, tzinfo=UTC)
    book.apply_mark(PartitionMark(partition=0, behind=0, at=caught_up))
    fresh = book.check(ask("0"))
    assert (fresh.spend_age_s, fresh.budgets[0].spend_as_of) == (2, caught_up)
