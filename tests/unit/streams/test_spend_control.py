"""An alert is stored, then acknowledged on the topic, before the worker's state says it fired."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest

from schemas.alerts import Alert, AlertRule
from streams.spend_control import SpendControl, TableSpend
from streams.spend_rules import BudgetBook, LimitSettings, SpendRules, budget_rules
from tests.unit.streams.test_spend_rules import spend


class Table:
    """A Faust table as TableSpend reads and writes it: a dict of bytes."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}


class Outlet:
    def __init__(self, journal: list[str], kafka_down: bool = False) -> None:
        self.journal, self.kafka_down = journal, kafka_down
        self.stored: list[Alert] = []

    async def store(self, alerts: Sequence[Alert]) -> None:
        self.journal.append("clickhouse")
        self.stored += alerts

    async def publish(self, alerts: Sequence[Alert]) -> None:
        if self.kafka_down:
            raise ConnectionError("Kafka is away")
        self.journal.append("kafka")


class Records(TableSpend):
    def __init__(self, journal: list[str]) -> None:
        super().__init__(Table())
        self.journal = journal

    async def flush(self) -> None:
        self.journal.append("state")


async def retry(call: Callable[[], Awaitable[Any]], what: str) -> Any:
    return await call()


def control(outlet: Outlet, records: Records) -> SpendControl:
    rules = SpendRules(BudgetBook(), budget_rules(Decimal(20), Decimal(10)), LimitSettings())
    return SpendControl(rules, records, outlet)


async def test_a_request_over_the_limit_is_stored_then_published_then_remembered() -> None:
    journal: list[str] = []
    records = Records(journal)
    alerts = await control(Outlet(journal), records).apply([spend(1, "0.80", "2026-11-20T09:00:00Z")], retry)
    assert [a.rule for a in alerts] == [AlertRule.REQUEST_COST]
    assert journal == ["clickhouse", "kafka", "state"]
    assert records.mark(0).position == 1 << 16


async def test_an_alert_the_topic_refused_is_sent_again_under_the_same_id() -> None:
    journal: list[str] = []
    records, outlet = Records(journal), Outlet(journal, kafka_down=True)
    batch = [spend(1, "0.80", "2026-11-20T09:00:00Z")]
    with pytest.raises(ConnectionError):
        await control(outlet, records).apply(batch, retry)
    assert records.table.data == {}
    again = Outlet(journal)
    [alert] = await control(again, records).apply(batch, retry)
    assert alert.alert_id == outlet.stored[0].alert_id  # the same id: ClickHouse keeps it once
