"""``costline webhooks run``: alerts from their topic to every endpoint that wants them.

Each pass reads what the alerts topic has, queues the deliveries in
ClickHouse and only then commits the topic's offsets, so an alert read is
an alert queued (a crash re-reads it, and queuing is idempotent by alert
id). Then every due delivery is posted, and its outcome written back with
the next attempt's time. A crash between a post and its record repeats
that post: receivers dedup by the alert id, which is why it is sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from clickhouse_connect.driver.client import Client

from costline.clickhouse import open_client
from costline.config import Settings
from costline.kafka_auth import client_security
from costline.webhooks import deliveries
from costline.webhooks.deliveries import Alert, Delivery
from costline.webhooks.endpoints import Endpoint, list_endpoints
from costline.webhooks.retries import DeliveryStatus, retry_delay_s, status_after
from costline.webhooks.signing import ALERT_ID_HEADER, SIGNATURE_HEADER, signature_header

log = logging.getLogger(__name__)
_PARALLEL_POSTS = 16
_ENDPOINTS_FRESH_S = 5.0  # an added or removed endpoint takes effect within this


def alert_of(key: bytes | None, value: bytes | None) -> Alert | None:
    """The alert a topic message carries; None (logged) for one that carries no alert id."""
    if value is None:
        return None
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict):
        log.error("alerts topic: a message that is not a JSON object was skipped (key %r)", key)
        return None
    alert_id = doc.get("alert_id") or (key.decode(errors="replace") if key else None)
    if not isinstance(alert_id, str) or not alert_id:
        log.error("alerts topic: a message without an alert_id was skipped")
        return None
    scope = doc.get("scope")
    customer = doc.get("customer_id") or (scope.get("customer_id") if isinstance(scope, dict) else None)
    return Alert(alert_id, customer if isinstance(customer, str) and customer else None, value)


class WebhookRunner:
    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._client: Client | None = None
        self._http = http or httpx.AsyncClient(timeout=settings.webhook_timeout_s, follow_redirects=False)
        self._endpoints: list[Endpoint] = []
        self._endpoints_read_at = -_ENDPOINTS_FRESH_S

    @property
    def db(self) -> Client:
        if self._client is None:
            self._client = open_client(self.settings)
        return self._client

    def consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            self.settings.alerts_topic,
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=f"{self.settings.app_id}-webhooks",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **client_security(self.settings),
        )

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self.consumer()
        await consumer.start()
        try:
            while not stop.is_set():
                await self.read_alerts(consumer, timeout_s=self.settings.webhook_poll_s)
                await self.deliver_due()
        finally:
            await consumer.stop()
            await self._http.aclose()

    async def read_alerts(self, consumer: AIOKafkaConsumer, timeout_s: float) -> int:
        """Queue what the topic has now, then commit it; how many deliveries were queued."""
        batches = await consumer.getmany(timeout_ms=int(timeout_s * 1000), max_records=1000)
        records: list[ConsumerRecord[bytes, bytes]] = [r for rs in batches.values() for r in rs]
        if not records:
            return 0
        alerts = [a for a in (alert_of(r.key, r.value) for r in records) if a is not None]
        endpoints = await self.endpoints()
        queued = await asyncio.to_thread(deliveries.queue, self.db, endpoints, alerts, _now())
        await consumer.commit()
        if queued:
            log.info("queued %d webhook deliveries of %d alerts", queued, len(alerts))
        return queued

    async def deliver_due(self) -> int:
        """Post every due delivery once; how many were attempted."""
        due = await asyncio.to_thread(deliveries.due, self.db, _now())
        if not due:
            return 0
        by_id = {e.endpoint_id: e for e in await self.endpoints(include_removed=True)}
        slots = asyncio.Semaphore(_PARALLEL_POSTS)

        async def attempt(delivery: Delivery) -> Delivery:
            async with slots:
                return await self._attempt(delivery, by_id.get(delivery.endpoint_id))

        done = await asyncio.gather(*(attempt(d) for d in due))
        await asyncio.to_thread(deliveries.write, self.db, done, _now())
        return len(done)

    async def endpoints(self, include_removed: bool = False) -> list[Endpoint]:
        if time.monotonic() - self._endpoints_read_at > _ENDPOINTS_FRESH_S:
            self._endpoints = await asyncio.to_thread(list_endpoints, self.db, True)
            self._endpoints_read_at = time.monotonic()
        return [e for e in self._endpoints if include_removed or e.removed_at is None]

    async def _attempt(self, delivery: Delivery, endpoint: Endpoint | None) -> Delivery:
        now = _now()
        if endpoint is None or endpoint.removed_at is not None:
            return delivery.attempted(DeliveryStatus.FAILED, "the endpoint was removed", now)
        signed_at = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Costline-Webhooks/1",
            SIGNATURE_HEADER: signature_header(endpoint.secret, signed_at, delivery.body),
            ALERT_ID_HEADER: delivery.alert_id,
        }
        try:
            response = await self._http.post(endpoint.url, content=delivery.body, headers=headers)
            status, error = status_after(response.status_code), f"HTTP {response.status_code}"
        except httpx.TransportError as exc:  # refused, reset, timed out: may pass
            status, error = (
                DeliveryStatus.PENDING,
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
            )
        what = f"webhook {delivery.alert_id} to {endpoint.url} (attempt {delivery.attempts + 1})"
        if status is DeliveryStatus.DELIVERED:
            return delivery.attempted(status, "", now)
        if status is DeliveryStatus.FAILED:
            log.error(
                "%s refused with %s: not retried; `costline webhooks redeliver` sends it again", what, error
            )
            return delivery.attempted(status, error, now)
        return self._retry_or_give_up(delivery, what, error, now)

    def _retry_or_give_up(self, delivery: Delivery, what: str, error: str, now: datetime) -> Delivery:
        s = self.settings
        wait = retry_delay_s(delivery.attempts + 1, s.webhook_retry_base_s, s.webhook_retry_max_s)
        next_at = now + timedelta(seconds=wait)
        if (next_at - delivery.queued_at).total_seconds() > s.webhook_retry_for_s:
            log.error("%s failed with %s; giving up after %d attempts", what, error, delivery.attempts + 1)
            return delivery.attempted(DeliveryStatus.FAILED, f"gave up: {error}", now)
        log.warning("%s failed with %s; retrying in %.0f s", what, error, wait)
        return delivery.attempted(DeliveryStatus.PENDING, error, next_at)


def _now() -> datetime:
    return datetime.now(UTC)


def describe(delivery: Delivery) -> Sequence[str]:
    """A delivery as the CLI lists it."""
    when = (
        f"next {delivery.next_attempt_at:%Y-%m-%d %H:%M:%S}"
        if delivery.status is DeliveryStatus.PENDING
        else ""
    )
    return (
        delivery.alert_id,
        delivery.endpoint_id,
        delivery.status.value,
        f"{delivery.attempts} attempts",
        delivery.last_error or "-",
        when,
    )
