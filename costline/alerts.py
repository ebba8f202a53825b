"""Read alerts back: from ClickHouse (``alerts list``) or as they come, from the topic (``alerts tail``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from clickhouse_connect.driver.client import Client

from costline.clickhouse import read_query
from costline.config import Settings
from costline.kafka import topic_partitions
from costline.kafka_auth import client_security
from schemas.alerts import Alert


def list_alerts(client: Client, customer: str | None, since: datetime, limit: int = 1000) -> list[Alert]:
    result = client.query(
        read_query("alerts"), parameters={"customer": customer or "", "since": since, "limit": limit}
    )
    return [Alert.model_validate_json(row[0]) for row in result.result_rows]


async def follow_alerts(settings: Settings, customer: str | None, from_start: bool) -> AsyncIterator[Alert]:
    """Alerts as the worker produces them (from the topic's end unless ``from_start``)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=None, **client_security(settings)
    )
    await consumer.start()
    try:
        topic = settings.alerts_topic
        partitions = [TopicPartition(topic, p) for p in await topic_partitions(settings, topic)]
        consumer.assign(partitions)
        if from_start:
            await consumer.seek_to_beginning(*partitions)
        else:
            await consumer.seek_to_end(*partitions)
        while True:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    if record.value is None:
                        continue
                    alert = Alert.model_validate_json(record.value)
                    if customer is None or alert.customer_id == customer:
                        yield alert
    finally:
        await consumer.stop()


def alert_line(alert: Alert) -> str:
    return f"{alert.occurred_at:%Y-%m-%d %H:%M:%S}Z  {alert.alert_id}  {alert.rule:<16} {alert.reason}"
