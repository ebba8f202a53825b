"""Publish budgets to the compacted budgets topic and record them in ClickHouse.

As prices (:mod:`costline.price_versions`): workers apply what the topic
says, without a restart; ClickHouse keeps the record ``budgets list`` reads.
ClickHouse is reached first, so an unreachable one stops a load before the
topic gets anything; both steps are idempotent, so loading again is safe.
A deletion is a tombstone on the topic and a ``deleted`` row.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver.client import Client

from costline.config import Settings
from costline.kafka import ensure_topics
from costline.kafka_auth import client_security
from costline.publisher import PublishTimeout
from schemas.budgets import Budget

PUBLISH_TIMEOUT_S = 30.0
BUDGET_COLUMNS = ("budget_id", "customer_id", "definition", "deleted", "loaded_at")


async def _publish(settings: Settings, records: Sequence[tuple[str, bytes | None]]) -> None:
    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True,
        request_timeout_ms=int(PUBLISH_TIMEOUT_S * 1000), **client_security(settings),
    )  # fmt: skip
    await asyncio.wait_for(producer.start(), PUBLISH_TIMEOUT_S)
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            sent = [await producer.send(settings.budgets_topic, key=k.encode(), value=v) for k, v in records]
            await asyncio.gather(*sent)
    except TimeoutError:
        raise PublishTimeout(
            f"Kafka at {settings.kafka_bootstrap} did not acknowledge {len(records)} budget(s) "
            f"within {PUBLISH_TIMEOUT_S:g} s; loading them again is safe",
            len(records),
        ) from None
    finally:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(producer.stop(), PUBLISH_TIMEOUT_S)


def publish_and_record(settings: Settings, client: Client, budgets: Sequence[Budget]) -> None:
    asyncio.run(_publish(settings, [(b.budget_id, b.model_dump_json().encode()) for b in budgets]))
    now = datetime.now(UTC)
    rows = [[b.budget_id, b.customer_id, b.model_dump_json(), 0, now] for b in budgets]
    client.insert("budgets", rows, column_names=list(BUDGET_COLUMNS))


def delete(settings: Settings, client: Client, budget_id: str) -> bool:
    """Delete a budget; False if there is none of that id."""
    if not any(b.budget_id == budget_id for b in list_budgets(client)):
        return False
    asyncio.run(_publish(settings, [(budget_id, None)]))
    client.insert("budgets", [[budget_id, "", "", 1, datetime.now(UTC)]], column_names=list(BUDGET_COLUMNS))
    return True


def list_budgets(client: Client, customer: str | None = None) -> list[Budget]:
    result = client.query(
        "SELECT definition FROM budgets FINAL WHERE deleted = 0 "
        "AND ({customer:String} = '' OR customer_id = {customer:String}) ORDER BY customer_id, budget_id",
        parameters={"customer": customer or ""},
    )
    return [Budget.model_validate_json(row[0]) for row in result.result_rows]
