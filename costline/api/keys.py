"""API keys: their scopes, their wire form and how a presented key is checked.

A key reads ``cl_<key_id>_<secret>``. The id is public (it names the key in
``costline keys list`` and in the store); the secret is 32 random bytes,
shown once at creation and kept only as its SHA-256. Keys are high-entropy,
so a fast hash is enough: no password stretching is needed to make a
guess as hard as the secret itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

PREFIX = "cl_"
_KEY = re.compile(r"cl_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


class Scope(StrEnum):
    INGEST = "ingest"  # POST /v1/events
    READ = "read"  # GET /v1/costs, invoices, economics, dead letters
    GATE = "gate"  # POST /v1/gate/check: reads a remaining budget and reserves from it
    ADMIN = "admin"  # everything


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key: never its secret, only the secret's hash."""

    key_id: str
    secret_sha256: bytes
    name: str
    scopes: frozenset[Scope]
    customer_id: str | None  # None: every customer
    created_at: datetime
    revoked_at: datetime | None = None

    def allows(self, scope: Scope) -> bool:
        return self.revoked_at is None and (scope in self.scopes or Scope.ADMIN in self.scopes)

    def may_act_for(self, customer_id: str) -> bool:
        return self.customer_id is None or self.customer_id == customer_id


@dataclass(frozen=True, slots=True)
class PresentedKey:
    key_id: str
    secret: str

    def matches(self, stored: ApiKey) -> bool:
        """Constant time in the secret: the hashes are compared with ``hmac.compare_digest``."""
        return hmac.compare_digest(hash_secret(self.secret), stored.secret_sha256)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def new_key() -> tuple[str, str, bytes]:
    """(key_id, the full key to hand out once, its secret's hash)."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return key_id, f"{PREFIX}{key_id}_{secret}", hash_secret(secret)


def parse_key(text: str) -> PresentedKey | None:
    """The key in ``text``, or None if it is not one (never says why: a caller learns nothing)."""
    found = _KEY.fullmatch(text)
    return PresentedKey(found[1], found[2]) if found else None


def parse_bearer(header: str | None) -> PresentedKey | None:
    """The key of an ``Authorization: Bearer <key>`` header."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    return parse_key(token.strip()) if scheme.lower() == "bearer" else None
