"""The delivery queue in ClickHouse: one row per (endpoint, alert), rewritten after each attempt."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from costline.clickhouse import as_utc, read_query
from costline.webhooks.endpoints import Endpoint
from costline.webhooks.retries import DeliveryStatus

_COLUMNS = [
    "endpoint_id",
    "alert_id",
    "body",
    "status",
    "attempts",
    "last_error",
    "queued_at",
    "next_attempt_at",
    "updated_at",
    "version",
]


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert as read from its topic: the id receivers dedup by, whom it is about, its bytes."""

    alert_id: str
    customer_id: str | None
    body: bytes


@dataclass(frozen=True, slots=True)
class Delivery:
    endpoint_id: str
    alert_id: str
    body: bytes
    status: DeliveryStatus
    attempts: int
    last_error: str
    queued_at: datetime
    next_attempt_at: datetime

    def attempted(self, status: DeliveryStatus, error: str, next_attempt_at: datetime) -> Delivery:
        return replace(
            self, status=status, attempts=self.attempts + 1, last_error=error, next_attempt_at=next_attempt_at
        )


def queue(client: Client, endpoints: Sequence[Endpoint], alerts: Sequence[Alert], now: datetime) -> int:
    """Queue each alert for each endpoint that wants it, unless it was queued before; how many."""
    if not alerts or not endpoints:
        return 0
    rows = client.query(
        read_query("webhook_deliveries_known"), parameters={"alert_ids": [a.alert_id for a in alerts]}
    ).result_rows
    known = {alert_id for (alert_id,) in rows}
    fresh = [
        Delivery(e.endpoint_id, a.alert_id, a.body, DeliveryStatus.PENDING, 0, "", now, now)
        for a in alerts
        if a.alert_id not in known
        for e in endpoints
        if e.wants(a.customer_id)
    ]
    write(client, fresh, now)
    return len(fresh)


def due(client: Client, now: datetime, limit: int = 100) -> list[Delivery]:
    rows = client.query(read_query("webhook_deliveries_due"), parameters={"now": now, "limit": limit})
    return [_delivery(row) for row in rows.result_rows]


def find(
    client: Client, status: DeliveryStatus | None = None, alert_id: str = "", limit: int = 100
) -> list[Delivery]:
    parameters = {"status": status.value if status else "", "alert_id": alert_id, "limit": limit}
    rows = client.query(read_query("webhook_deliveries"), parameters=parameters)
    return [_delivery(row) for row in rows.result_rows]


def redeliver(client: Client, alert_id: str, now: datetime) -> int:
    """Queue again every delivery of ``alert_id`` (a failed one, or to send it once more); how many."""
    found = find(client, alert_id=alert_id, limit=10_000)
    again = [replace(d, status=DeliveryStatus.PENDING, next_attempt_at=now, queued_at=now) for d in found]
    write(client, again, now)
    return len(again)


def write(client: Client, deliveries: Iterable[Delivery], now: datetime) -> None:
    version = time.time_ns()  # later writes of a delivery win
    rows = [
        [
            d.endpoint_id,
            d.alert_id,
            d.body,
            d.status.value,
            d.attempts,
            d.last_error,
            d.queued_at,
            d.next_attempt_at,
            now,
            version,
        ]
        for d in deliveries
    ]
    if rows:
        client.insert("webhook_deliveries", rows, column_names=_COLUMNS)


def _delivery(row: Any) -> Delivery:
    endpoint_id, alert_id, body, status, attempts, last_error, queued, next_at = row
    return Delivery(
        endpoint_id=endpoint_id,
        alert_id=alert_id,
        body=body if isinstance(body, bytes) else body.encode(),
        status=DeliveryStatus(status),
        attempts=attempts,
        last_error=last_error,
        queued_at=as_utc(queued),
        next_attempt_at=as_utc(next_at),
    )
