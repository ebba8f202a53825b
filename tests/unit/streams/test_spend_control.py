"""An alert is stored, then acknowledged on the topic, before the worker's state says it fired."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from schemas.alerts import Alert, AlertRule
from streams.spend_control import ClickHouseKafkaOutlet, SpendControl, TableSpend
from streams.spend_rules import BudgetBook, LimitSettings, SpendRules, budget_rules
from tests.fakes import FakeProducer
from tests.unit.streams.test_spend_rules import engine, monthly, spend


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
    def __init__(self, journal: list[str], decoded_max: int = 1000) -> None:
        super().__init__(Table(), decoded_max)
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


async def test_records_kept_decoded_between_batches_give_what_decoding_them_afresh_gives() -> None:
    from streams.anomaly_rules import AnomalyRules, AnomalySettings
    from tests.unit.streams.test_anomaly_rules import history

    def anomalies(records: TableSpend) -> SpendControl:
        rules = SpendRules(BudgetBook(), budget_rules(Decimal(20), Decimal(10)), LimitSettings(),
                           anomalies=AnomalyRules(AnomalySettings()))  # fmt: skip
        return SpendControl(rules, records, Outlet([]))

    events = [
        *history(),
        spend(61, "0.03", "2026-11-05T09:00:00Z"),
        spend(62, "0.01", "2026-11-05T10:00:00Z"),
    ]
    kept, afresh = Records([]), Records([], decoded_max=0)
    alerts: dict[str, list[str]] = {"kept": [], "afresh": []}
    for start in range(0, len(events), 7):
        for name, records in (("kept", kept), ("afresh", afresh)):
            found = await anomalies(records).apply(events[start : start + 7], retry)
            alerts[name] += [a.alert_id for a in found]
    assert alerts["kept"] == alerts["afresh"] and len(alerts["kept"]) == 1
    assert kept.table.data == afresh.table.data


async def test_a_batch_that_failed_is_judged_again_from_the_records_as_they_were_stored() -> None:
    journal: list[str] = []
    records = Records(journal)
    budget = engine(monthly("1.00", thresholds=[50]))
    await SpendControl(budget, records, Outlet(journal)).apply(
        [spend(1, "0.40", "2026-11-20T09:00:00Z")], retry
    )
    crossing = [spend(2, "0.20", "2026-11-20T10:00:00Z")]  # $0.60 of $1.00: the 50% threshold
    down = Outlet(journal, kafka_down=True)
    with pytest.raises(ConnectionError):
        await SpendControl(budget, records, down).apply(crossing, retry)

    [alert] = await SpendControl(budget, records, Outlet(journal)).apply(crossing, retry)

    assert alert.alert_id == down.stored[0].alert_id and alert.rule is AlertRule.BUDGET_THRESHOLD


class ClickHouse:
    """clickhouse-connect's async insert: the rows it was given."""

    def __init__(self) -> None:
        self.rows: list[list[Any]] = []

    async def insert(self, table: str, rows: list[list[Any]], column_names: list[str]) -> None:
        assert table == "alerts"
        self.rows += rows


async def test_each_alert_is_published_on_its_id_s_partition_with_the_json_it_is_stored_as() -> None:
    rules = SpendRules(BudgetBook(), budget_rules(Decimal(20), Decimal(10)), LimitSettings())
    batch = [spend(n, "0.80", f"2026-11-20T09:00:{n:02d}Z", request=f"r{n}") for n in range(1, 13)]
    alerts = rules.evaluate(batch, Records([])).alerts
    assert len(alerts) == 12
    producer, clickhouse = FakeProducer(partitions=range(6)), ClickHouse()
    outlet = ClickHouseKafkaOutlet(clickhouse, lambda: producer, "alerts")

    await outlet.publish(alerts)
    await outlet.store(alerts)

    keys = [a.alert_id.encode() for a in alerts]
    on = {key: DefaultPartitioner()(key, list(range(6)), []) for key in keys}  # as producer.send puts it
    for partition in set(on.values()):  # each partition's alerts in the order they fired
        sent_on = [key for _, p, key, _ in producer.sent if p == partition]
        assert sent_on == [key for key in keys if on[key] == partition]
    assert {key: value for _, _, key, value in producer.sent} == {
        key: alert.payload() for key, alert in zip(keys, alerts, strict=True)
    }
    assert [row[-1] for row in clickhouse.rows] == [a.payload().decode() for a in alerts]
    assert all(delivery.done() for delivery in producer.deliveries)


class FailingOnce(ClickHouse):
    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def insert(self, table: str, rows: list[list[Any]], column_names: list[str]) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("ClickHouse is away")
        await super().insert(table, rows, column_names)


async def test_each_alert_s_json_is_made_once_and_the_outlet_holds_no_alert_once_stored_and_published(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stored again on a retry with the JSON published; kept past its batch, a batch's alerts would be
    traversed by the collection the batch owes."""
    rules = SpendRules(BudgetBook(), budget_rules(Decimal(20), Decimal(10)), LimitSettings())
    alerts = rules.evaluate([spend(n, "0.80", f"2026-11-20T09:00:{n:02d}Z", request=f"r{n}") for n in (1, 2)],
                            Records([])).alerts  # fmt: skip
    made: list[str] = []
    payload = Alert.payload
    monkeypatch.setattr(Alert, "payload", lambda alert: made.append(alert.alert_id) or payload(alert))
    producer, clickhouse = FakeProducer(partitions=range(6)), FailingOnce()
    outlet = ClickHouseKafkaOutlet(clickhouse, lambda: producer, "alerts")

    with pytest.raises(ConnectionError):
        await outlet.store(alerts)
    await outlet.publish(alerts)
    assert outlet._made is not None  # not stored yet
    await outlet.store(alerts)

    assert made == [a.alert_id for a in alerts]
    assert sorted(row[-1] for row in clickhouse.rows) == sorted(value.decode() for *_, value in producer.sent)
    assert outlet._made is None
