"""API keys in ClickHouse (``sql/ddl/011_api_keys.sql``): create, list, revoke, look up.

Rows are never changed: a revocation writes the key's row again with
``revoked_at`` and a higher ``version``, and reads take the newest (FINAL).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from costline.api.keys import ApiKey, Scope, new_key
from costline.clickhouse import as_utc

_COLUMNS = ["key_id", "secret_sha256", "name", "scopes", "customer_id", "created_at", "revoked_at", "version"]
_SCOPES = {scope.value for scope in Scope}  # a scope this version does not know grants nothing
_SELECT = f"SELECT {', '.join(_COLUMNS[:-1])} FROM api_keys FINAL"


class UnknownKey(LookupError):
    """No key has this id."""


def create_key(
    client: Client, scopes: Iterable[Scope], customer_id: str | None = None, name: str = ""
) -> tuple[ApiKey, str]:
    """A new key and its secret form, which is never stored and can be shown only now."""
    key_id, secret_form, digest = new_key()
    key = ApiKey(key_id, digest, name, frozenset(scopes), customer_id, datetime.now(UTC))
    _write(client, key)
    return key, secret_form


def revoke_key(client: Client, key_id: str) -> ApiKey:
    """The key, revoked now (a key revoked before keeps its first revocation time)."""
    key = find_key(client, key_id)
    if key is None:
        raise UnknownKey(f"no API key {key_id!r}; `costline keys list` shows them")
    if key.revoked_at is None:
        key = replace(key, revoked_at=datetime.now(UTC))
        _write(client, key)
    return key


def find_key(client: Client, key_id: str) -> ApiKey | None:
    rows = client.query(f"{_SELECT} WHERE key_id = {{key_id:String}}", parameters={"key_id": key_id})
    return _key(rows.result_rows[0]) if rows.result_rows else None


def list_keys(client: Client) -> list[ApiKey]:
    return [_key(row) for row in client.query(f"{_SELECT} ORDER BY created_at, key_id").result_rows]


def _write(client: Client, key: ApiKey) -> None:
    row = [
        key.key_id,
        key.secret_sha256,
        key.name,
        sorted(key.scopes),
        key.customer_id or "",
        key.created_at,
        key.revoked_at,
        time.time_ns(),  # later writes of a key win
    ]
    client.insert("api_keys", [row], column_names=_COLUMNS)


def _key(row: Any) -> ApiKey:
    key_id, digest, name, scopes, customer, created, revoked = row
    return ApiKey(
        key_id=key_id,
        secret_sha256=digest if isinstance(digest, bytes) else digest.encode("latin-1"),
        name=name,
        scopes=frozenset(Scope(s) for s in scopes if s in _SCOPES),
        customer_id=customer or None,
        created_at=as_utc(created),
        revoked_at=as_utc(revoked) if revoked is not None else None,
    )
