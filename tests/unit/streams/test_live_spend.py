"""The worker's live spend for the gate: what a batch publishes, and when, against its state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from schemas.budgets import Budget
from schemas.events import usage_event_adapter
from schemas.gate import RESERVATION_ATTRIBUTE, LiveSpend, PartitionMark, live_spend_key, partition_mark_key
from streams.aggregation import Counted
from streams.live_spend import LiveSpendOutlet, live_records
from streams.metrics import PartitionSample
from streams.pricing import PricedEvent, TokenUsage
from streams.spend_control import SpendControl
from streams.spend_rules import BudgetBook, LimitSettings, SpendRules, budget_rules
from streams.spend_state import BudgetSpend
from tests.fakes import FakeProducer
from tests.unit.streams.test_spend_control import Outlet, Records, retry

AT = datetime(2026, 11, 20, 12, 5, tzinfo=UTC)


def used(n: int, cost: str, agent: str = "researcher", reservation: str | None = None) -> Counted:
    attributes = {RESERVATION_ATTRIBUTE: reservation} if reservation else {}
    event = usage_event_adapter.validate_python(
        {"kind": "tool", "event_id": f"e{n}", "occurred_at": AT.isoformat(), "customer_id": "acme",
         "agent_id": agent, "tool": "search", "calls": 1, "attributes": attributes}
    )  # fmt: skip
    return (0, n << 16, PricedEvent(event, Decimal(cost), "v1", "search", "tavily", Decimal(1), "call",
                                    TokenUsage()))  # fmt: skip


def budgets() -> BudgetBook:
    def budget(budget_id: str, **fields: Any) -> Budget:
        return Budget.model_validate(
            {"budget_id": budget_id, "customer_id": "acme", "period": "day", "amount": "1", **fields}
        )

    return BudgetBook([budget("acme-day"), budget("writer-day", scope="customer_agent", agent_id="writer")])


def test_a_batch_publishes_each_changed_budget_with_the_reservations_it_counted_under_it() -> None:
    book = budgets()
    batch = [used(1, "0.10", reservation="res_a"), used(2, "0.20", agent="writer", reservation="res_b"),
             used(3, "0.05")]  # fmt: skip
    result = SpendRules(book, budget_rules(Decimal(20), Decimal(10)), LimitSettings()).evaluate(
        batch, Records([])
    )

    records = {r.budget_id: r for r in live_records(book, result.budgets, batch, AT)}

    assert records["acme-day"].spend == Decimal("0.35")
    assert records["acme-day"].settled == ("res_a", "res_b")
    assert records["writer-day"].settled == ("res_b",)  # the researcher's call is not the writer's
    assert records["writer-day"].position == 2 << 16
    assert records["acme-day"].period_start == datetime(2026, 11, 20, tzinfo=UTC)


class Live:
    def __init__(self, journal: list[str]) -> None:
        self.journal = journal
        self.published: list[Mapping[bytes, BudgetSpend]] = []

    async def publish(
        self, changed: Mapping[bytes, BudgetSpend], counted: Sequence[Counted], columns: object = None
    ) -> None:
        self.journal.append("live spend")
        self.published.append(dict(changed))


async def test_live_spend_is_acknowledged_before_the_state_moves_on_so_a_replay_sends_it_again() -> None:
    journal: list[str] = []
    live = Live(journal)
    rules = SpendRules(budgets(), budget_rules(Decimal(20), Decimal(10)), LimitSettings(request_cost=None))
    await SpendControl(rules, Records(journal), Outlet(journal), live).apply([used(1, "0.10")], retry)

    assert journal == ["live spend", "state"]
    assert len(live.published[0]) == 1


async def test_a_batch_that_changes_no_budget_publishes_nothing() -> None:
    journal: list[str] = []
    live = Live(journal)
    rules = SpendRules(BudgetBook(), budget_rules(Decimal(20), Decimal(10)), LimitSettings(request_cost=None))
    await SpendControl(rules, Records(journal), Outlet(journal), live).apply([used(1, "0.10")], retry)
    assert live.published == [] and journal == ["state"]


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, value))


async def test_each_held_partition_is_marked_with_how_far_behind_the_worker_is() -> None:
    producer = Producer()
    outlet = LiveSpendOutlet(budgets(), lambda: producer, "spend", now=lambda: AT)
    await outlet.mark(
        {0: PartitionSample(120, 120, 0), 3: PartitionSample(130, 100, 0), 5: PartitionSample(0, None, 0)}
    )

    marks = {key: PartitionMark.model_validate_json(value) for _, key, value in producer.sent}
    assert [(m.partition, m.behind) for m in marks.values()] == [(0, 0), (3, 30), (5, None)]
    assert set(marks) == {partition_mark_key(p) for p in (0, 3, 5)} and marks[partition_mark_key(0)].at == AT


async def test_no_marks_while_no_budget_exists() -> None:
    producer = Producer()
    await LiveSpendOutlet(BudgetBook(), lambda: producer, "spend").mark({0: PartitionSample(1, 1, 0)})
    assert producer.sent == []


async def test_each_changed_budget_is_sent_on_its_key_s_partition_and_acknowledged() -> None:
    book = budgets()
    batch = [used(1, "0.10", reservation="res_a"), used(2, "0.20", agent="writer")]
    result = SpendRules(book, budget_rules(Decimal(20), Decimal(10)), LimitSettings()).evaluate(
        batch, Records([])
    )
    producer = FakeProducer(partitions=range(6))
    await LiveSpendOutlet(book, lambda: producer, "budget-spend", now=lambda: AT).publish(
        result.budgets, batch
    )

    sent = {
        key: (partition, LiveSpend.model_validate_json(value or b""))
        for _, partition, key, value in producer.sent
    }
    assert sent.keys() == {live_spend_key("acme-day", ""), live_spend_key("writer-day", "writer")}
    for key, (partition, record) in sent.items():
        assert partition == DefaultPartitioner()(key, list(range(6)), [])  # as producer.send would choose
        assert record.published_at == AT
    assert sent[live_spend_key("acme-day", "")][1].spend == Decimal("0.30")
    assert sent[live_spend_key("acme-day", "")][1].settled == ("res_a",)
    assert all(delivery.done() for delivery in producer.deliveries)
