"""Publish price versions to the compacted topic and record them in ClickHouse."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver.client import Client

from costline.config import Settings
from costline.kafka import ensure_topics
from costline.kafka_auth import client_security
from costline.publisher import PublishTimeout
from schemas.prices import PriceVersion

PUBLISH_TIMEOUT_S = 30.0


async def publish_versions(
    settings: Settings, versions: Sequence[PriceVersion], timeout_s: float = PUBLISH_TIMEOUT_S
) -> None:
    """Publish every version and wait for Kafka to acknowledge all of them, within ``timeout_s``."""
    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=int(timeout_s * 1000),
        **client_security(settings),
    )
    await asyncio.wait_for(producer.start(), timeout_s)
    try:
        async with asyncio.timeout(timeout_s):
            sent = [
                await producer.send(
                    settings.prices_topic,
                    key=version.version.encode(),
                    value=version.model_dump_json().encode(),
                )
                for version in versions
            ]
            await asyncio.gather(*sent)
    except TimeoutError:
        raise PublishTimeout(
            f"Kafka at {settings.kafka_bootstrap} did not acknowledge the {len(versions)} price "
            f"version(s) within {timeout_s:g} s; loading them again is safe",
            len(versions),
        ) from None
    finally:
        # A broker that stopped answering would hold stop() as long as it holds the sends.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(producer.stop(), timeout_s)


PRICE_VERSION_COLUMNS = (
    "version",
    "effective_from",
    "currency",
    "meter",
    "sku",
    "rates",
    "description",
    "loaded_at",
)


# A negotiated version's rows also say their layer and when the agreement ends.
NEGOTIATED_COLUMNS = (*PRICE_VERSION_COLUMNS, "layer", "effective_until")


def negotiated_rows(versions: Sequence[PriceVersion], loaded_at: datetime) -> list[list[Any]]:
    """Negotiated versions' ``price_rows``, and a row per discount (meter "discount", sku the provider)."""
    rows: list[list[Any]] = []
    for version in versions:
        discounts = [
            [version.version, version.effective_from, version.currency, "discount", provider,
             {"discount": fraction}, version.description, loaded_at]
            for provider, fraction in version.discounts.items()
        ]  # fmt: skip
        for row in price_rows([version], loaded_at) + discounts:
            rows.append([*row, version.layer, version.effective_until])
    return rows


def price_rows(versions: Sequence[PriceVersion], loaded_at: datetime) -> list[list[Any]]:
    """One ``price_versions`` row per price: its rates are every priced field that is set."""
    rows: list[list[Any]] = []
    for version in versions:
        for price in version.prices:
            rates = price.rates()  # tiers and service tiers flattened to named rates
            rows.append(
                [
                    version.version,
                    version.effective_from,
                    version.currency,
                    price.meter,
                    price.sku,
                    rates,
                    version.description,
                    loaded_at,
                ]
            )
    return rows


def record_versions(client: Client, versions: Sequence[PriceVersion]) -> int:
    """Record every price of ``versions`` in ClickHouse; returns how many rows that is."""
    now = datetime.now(UTC)
    listed = price_rows([v for v in versions if v.layer == "list"], now)
    negotiated = negotiated_rows([v for v in versions if v.layer == "negotiated"], now)
    if listed or not negotiated:
        client.insert("price_versions", listed, column_names=list(PRICE_VERSION_COLUMNS))
    if negotiated:
        client.insert("price_versions", negotiated, column_names=list(NEGOTIATED_COLUMNS))
    return len(listed) + len(negotiated)


def publish_and_record(settings: Settings, client: Client, versions: Sequence[PriceVersion]) -> int:
    """Load price versions: publish them to the prices topic, then record them in ClickHouse.

    The worker prices from the topic; ClickHouse keeps the record that
    ``prices list`` and billing read. ``client`` is opened by the caller
    first, so an unreachable ClickHouse stops the load before the topic gets
    anything. Both steps are idempotent (a compacted topic keyed by version,
    a ReplacingMergeTree table), so loading again after a failure is safe.
    Returns the number of prices recorded.
    """
    asyncio.run(publish_versions(settings, versions))
    return record_versions(client, versions)


def list_versions(client: Client) -> list[tuple[str, datetime, int]]:
    result = client.query(
        "SELECT version, effective_from, count() FROM price_versions FINAL "
        "GROUP BY version, effective_from ORDER BY effective_from, version"
    )
    return [(r[0], r[1], int(r[2])) for r in result.result_rows]


def recorded_rates(client: Client, version_prefix: str) -> dict[tuple[str, str], dict[str, Decimal]]:
    """Each recorded price's rates by (version, sku), for versions whose id starts with the prefix."""
    result = client.query(
        "SELECT version, sku, rates FROM price_versions FINAL WHERE startsWith(version, {prefix:String})",
        parameters={"prefix": version_prefix},
    )
    return {(row[0], row[1]): dict(row[2]) for row in result.result_rows}
