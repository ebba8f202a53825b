"""The worker's spend control: its budgets, records and alert outlet, built from the settings."""

from __future__ import annotations

from typing import Any, cast

from clickhouse_connect.driver.asyncclient import AsyncClient

from streams.anomaly_rules import AnomalyRules, anomaly_settings
from streams.app import app, settings
from streams.budget_feed import BudgetFeed
from streams.live_spend import LiveSpendOutlet
from streams.spend_control import ClickHouseKafkaOutlet, SpendControl, TableSpend
from streams.spend_rules import BudgetBook, LimitSettings, SpendRules, budget_rules
from streams.topology import spend_table

book = BudgetBook()
budget_feed = BudgetFeed(settings, book)
spend_records = TableSpend(spend_table)


def _producer() -> Any:
    return cast(
        Any, app.producer
    )._ensure_producer()  # the aiokafka producer under Faust's, as ChangelogWriter uses


live_spend = LiveSpendOutlet(book, _producer, settings.budget_spend_topic)


def spend_control(client: AsyncClient) -> SpendControl:
    """``client``: where the alerts are stored."""
    rules = SpendRules(
        book,
        budget_rules(
            settings.burn_rate_excess_pct, settings.burn_rate_min_elapsed_pct, settings.margin_min_pct
        ),
        LimitSettings(
            settings.request_cost_limit,
            settings.request_token_limit,
            settings.task_cost_limit,
            settings.task_token_limit,
        ),
        anomalies=AnomalyRules(anomaly_settings(settings)),
    )
    outlet = ClickHouseKafkaOutlet(client, _producer, settings.alerts_topic)
    return SpendControl(rules, spend_records, outlet, live_spend)
