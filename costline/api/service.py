"""What the routes share: settings, the producer, the key cache, the bounds and the metrics."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from clickhouse_connect.driver.client import Client
from fastapi import Request

from costline.api import key_store
from costline.api.auth import KeyCache
from costline.api.batches import EventResult
from costline.api.idempotency import IdempotencyKeys
from costline.api.keys import ApiKey, Scope, parse_bearer
from costline.api.metrics import ApiMetrics
from costline.api.producing import EventProducer, InflightEvents
from costline.clickhouse import open_client
from costline.config import Settings
from costline.gate.service import BudgetGate
from costline.kafka_auth import client_security

T = TypeVar("T")

IDEMPOTENCY_FILE = "api-idempotency.sqlite3"


class ApiError(Exception):
    """Answered as ``{"error": message}`` with ``status`` (and Retry-After when given)."""

    def __init__(self, status: int, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


@dataclass
class Service:
    settings: Settings
    producer: EventProducer
    metrics: ApiMetrics = field(default_factory=ApiMetrics)
    _client: Client | None = None
    # clickhouse-connect's sync client runs one query at a time; lookups are rare (cached).
    _client_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Reads have a client of their own, so a slow report never holds up a key lookup.
    _reader: Client | None = None
    _reader_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    gate: BudgetGate = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.gate = BudgetGate(s)
        self.keys = KeyCache(self._find_key, s.api_key_cache_s)
        # A file every process of `costline api --workers N` shares; a request runs at most about
        # the produce timeout, so a claim still "running" well past it was left by a dead process.
        self.idempotency = IdempotencyKeys(
            s.api_idempotency_ttl_s,
            s.api_idempotency_max_keys,
            path=s.home / "run" / IDEMPOTENCY_FILE,
            lease_s=s.api_produce_timeout_s + 60,
        )
        self.inflight = InflightEvents(s.api_max_inflight_events)

    @classmethod
    def from_settings(cls, settings: Settings) -> Service:
        producer = EventProducer(
            settings.kafka_bootstrap,
            settings.usage_topic,
            settings.api_produce_timeout_s,
            client_security(settings),
        )
        return cls(settings, producer)

    def metrics_events(self, results: list[EventResult]) -> None:
        # One increment per outcome, not per event: a labelled inc takes a lock and a lookup.
        for outcome, count in Counter(result.outcome for result in results).items():
            self.metrics.events.labels(outcome.value).inc(count)

    async def clickhouse_reachable(self) -> bool:
        try:
            return bool(await self._with_client(lambda client: client.ping()))
        except Exception:
            return False

    async def read(self, call: Callable[[Client], T]) -> T:
        """``call`` with the read client, in a thread: the event loop keeps serving meanwhile."""
        async with self._reader_lock:
            if self._reader is None:
                self._reader = await asyncio.to_thread(open_client, self.settings)
            return await asyncio.to_thread(call, self._reader)

    async def _find_key(self, key_id: str) -> ApiKey | None:
        return await self._with_client(lambda client: key_store.find_key(client, key_id))

    async def _with_client(self, call: Callable[[Client], T]) -> T:
        async with self._client_lock:
            if self._client is None:
                self._client = await asyncio.to_thread(open_client, self.settings)
            return await asyncio.to_thread(call, self._client)


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def authenticated(scope: Scope) -> Callable[[Request], Awaitable[ApiKey]]:
    """A dependency: the caller's key, which must grant ``scope``."""

    async def dependency(request: Request) -> ApiKey:
        return await service_of(request).keys.authenticate(
            parse_bearer(request.headers.get("authorization")), scope
        )

    return dependency
