"""Webhook endpoints in ClickHouse (``sql/ddl/021_webhooks.sql``): add, list, remove."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from clickhouse_connect.driver.client import Client

from costline.clickhouse import as_utc
from costline.webhooks.signing import new_secret

_COLUMNS = [
    "endpoint_id",
    "url",
    "secret",
    "customer_id",
    "description",
    "created_at",
    "removed_at",
    "version",
]
_SELECT = f"SELECT {', '.join(_COLUMNS[:-1])} FROM webhook_endpoints FINAL"


class EndpointError(ValueError):
    """An endpoint that cannot be added or found; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    endpoint_id: str
    url: str
    secret: str
    customer_id: str | None  # None: alerts of every customer
    description: str
    created_at: datetime
    removed_at: datetime | None = None

    def wants(self, customer_id: str | None) -> bool:
        """Whether an alert about ``customer_id`` (None: no one customer) goes here."""
        return self.removed_at is None and (self.customer_id is None or self.customer_id == customer_id)

    def __repr__(self) -> str:  # the secret signs as Costline: kept out of logs and tracebacks
        return f"Endpoint({self.endpoint_id!r}, {self.url!r}, customer={self.customer_id!r})"


def add_endpoint(client: Client, url: str, customer_id: str | None = None, description: str = "") -> Endpoint:
    """A new endpoint with a new signing secret (shown once by the CLI)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError(f"{url!r} is not an http(s) URL")
    endpoint = Endpoint(
        endpoint_id="we_" + secrets.token_hex(8),
        url=url,
        secret=new_secret(),
        customer_id=customer_id or None,
        description=description,
        created_at=datetime.now(UTC),
    )
    _write(client, endpoint)
    return endpoint


def remove_endpoint(client: Client, endpoint_id: str) -> Endpoint:
    """The endpoint, removed now: nothing more is queued for it, and its pending deliveries stop."""
    found = [e for e in list_endpoints(client, include_removed=True) if e.endpoint_id == endpoint_id]
    if not found:
        raise EndpointError(f"no webhook endpoint {endpoint_id!r}; `costline webhooks list` shows them")
    endpoint = found[0]
    if endpoint.removed_at is None:
        endpoint = replace(endpoint, removed_at=datetime.now(UTC))
        _write(client, endpoint)
    return endpoint


def list_endpoints(client: Client, include_removed: bool = False) -> list[Endpoint]:
    endpoints = [_endpoint(row) for row in client.query(f"{_SELECT} ORDER BY created_at").result_rows]
    return [e for e in endpoints if include_removed or e.removed_at is None]


def _write(client: Client, e: Endpoint) -> None:
    row = [
        e.endpoint_id,
        e.url,
        e.secret,
        e.customer_id or "",
        e.description,
        e.created_at,
        e.removed_at,
        time.time_ns(),  # later writes of an endpoint win
    ]
    client.insert("webhook_endpoints", [row], column_names=_COLUMNS)


def _endpoint(row: Any) -> Endpoint:
    endpoint_id, url, secret, customer, description, created, removed = row
    return Endpoint(
        endpoint_id,
        url,
        secret,
        customer or None,
        description,
        as_utc(created),
        as_utc(removed) if removed is not None else None,
    )
