"""Publish price versions to the compacted topic and record them in ClickHouse."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver.client import Client

from schemas.prices import PriceVersion
from streams.settings import Settings
from streams.topics import ensure_topics

_RATE_FIELDS = ("meter", "sku")


async def publish_versions(settings: Settings, versions: Sequence[PriceVersion]) -> None:
    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for version in versions:
            await producer.send_and_wait(
                settings.prices_topic,
                key=version.version.encode(),
                value=version.model_dump_json().encode(),
            )
    finally:
        await producer.stop()


def record_versions(client: Client, versions: Sequence[PriceVersion]) -> int:
    now = datetime.now(UTC)
    rows = []
    for version in versions:
        for price in version.prices:
            rates = {
                name: value
                for name, value in price.model_dump().items()
                if name not in _RATE_FIELDS and value is not None
            }
            rows.append(
                [
                    version.version,
                    version.effective_from,
                    version.currency,
                    price.meter,
                    price.sku,
                    rates,
                    version.description,
                    now,
                ]
            )
    client.insert(
        "price_versions",
        rows,
        column_names=[
            "version",
            "effective_from",
            "currency",
            "meter",
            "sku",
            "rates",
            "description",
            "loaded_at",
        ],
    )
    return len(rows)


def list_versions(client: Client) -> list[tuple[str, datetime, int]]:
    result = client.query(
        "SELECT version, effective_from, count() FROM price_versions FINAL "
        "GROUP BY version, effective_from ORDER BY effective_from, version"
    )
    return [(r[0], r[1], int(r[2])) for r in result.result_rows]
