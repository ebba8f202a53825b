"""Idempotency-Key: a repeated request gets the first one's results, not a second delivery.

As Stripe does it: the same key with the same body answers the first
request's results again (``Idempotent-Replayed: true``), the same key with
another body is refused (422), and while the first is still running a
repeat gets 409. Keys are remembered per API key for ``ttl_s`` (24 h by
default), at most ``max_keys`` of them (the oldest forgotten first).

They live in SQLite: a file in COSTLINE_HOME for the API, so every process
of ``costline api --workers N`` on this host sees the same keys, and a
restart forgets none; in memory when no path is given. A claim is one short
transaction (``BEGIN IMMEDIATE``: two processes cannot both be first).
Where a process died while running a request, its claim is taken over after
``lease_s``. A key forgotten early (or several hosts behind one balancer,
each with its own file) means a repeat is produced again, and the worker's
own dedup by ``event_id`` (24 h) still counts each event once: the key saves
the second delivery, the event ids guarantee the bill.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from costline.api.batches import EventResult, Outcome

MAX_KEY_CHARS = 255

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- claim order: the oldest go first when full
    api_key_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    body_sha256 BLOB NOT NULL,
    claimed_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    results BLOB,  -- NULL while the first request is still running
    UNIQUE (api_key_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_expiry ON idempotency_keys (expires_at);
"""


@dataclass(slots=True)
class Remembered:
    body_sha256: bytes
    expires_at: float
    results: list[EventResult] | None = None  # None while the first request is still running


class IdempotencyKeys:
    def __init__(
        self,
        ttl_s: float,
        max_keys: int,
        clock: Callable[[], float] = time.time,  # wall time: shared by processes, kept over restarts
        path: Path | None = None,
        lease_s: float = 120.0,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self.lease_s = lease_s
        self.path = path
        self._clock = clock
        self._db: sqlite3.Connection | None = None

    def __len__(self) -> int:
        return int(self._connection().execute("SELECT count(*) FROM idempotency_keys").fetchone()[0])

    def claim(self, api_key_id: str, key: str, body_sha256: bytes) -> Remembered | None:
        """The earlier request's entry, or None after making this request the first."""
        now = self._clock()
        db = self._connection()
        with _transaction(db):
            db.execute("DELETE FROM idempotency_keys WHERE expires_at <= ?", (now,))
            found = db.execute(
                "SELECT body_sha256, claimed_at, expires_at, results FROM idempotency_keys"
                " WHERE api_key_id = ? AND idempotency_key = ?",
                (api_key_id, key),
            ).fetchone()
            if found is not None:
                body, claimed_at, expires_at, results = found
                if results is not None or claimed_at + self.lease_s > now:
                    return Remembered(body, expires_at, _results(results) if results is not None else None)
                # Still "running" past any request's time: its process died. This one is first now.
                db.execute(
                    "DELETE FROM idempotency_keys WHERE api_key_id = ? AND idempotency_key = ?",
                    (api_key_id, key),
                )
            cursor = db.execute(
                "INSERT INTO idempotency_keys"
                " (api_key_id, idempotency_key, body_sha256, claimed_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (api_key_id, key, body_sha256, now, now + self.ttl_s),
            )
            oldest_kept = int(cursor.lastrowid or 0) - self.max_keys + 1
            db.execute("DELETE FROM idempotency_keys WHERE seq < ?", (oldest_kept,))
        return None

    def complete(self, api_key_id: str, key: str, results: list[EventResult]) -> None:
        db = self._connection()
        with _transaction(db):
            db.execute(
                "UPDATE idempotency_keys SET results = ? WHERE api_key_id = ? AND idempotency_key = ?",
                (_stored(results), api_key_id, key),
            )

    def forget(self, api_key_id: str, key: str) -> None:
        """The request failed: a retry with this key is a first attempt."""
        db = self._connection()
        with _transaction(db):
            db.execute(
                "DELETE FROM idempotency_keys"
                " WHERE api_key_id = ? AND idempotency_key = ? AND results IS NULL",
                (api_key_id, key),
            )

    def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()

    def _connection(self) -> sqlite3.Connection:
        # Opened on first use: an app built only to read its OpenAPI spec touches no file.
        if self._db is None:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path if self.path is not None else ":memory:", isolation_level=None, timeout=5.0
            )
            if self.path is not None:
                db.execute("PRAGMA journal_mode = WAL")  # readers never wait for the one writer
                db.execute("PRAGMA synchronous = NORMAL")  # a process crash loses nothing; power loss may
            db.executescript(_SCHEMA)
            self._db = db
        return self._db


class _transaction:
    """``BEGIN IMMEDIATE`` .. ``COMMIT``: the write lock from the start, so a check and its insert
    are one step for every process."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _stored(results: list[EventResult]) -> bytes:
    return orjson.dumps([(r.index, r.event_id, r.outcome.value, r.reason) for r in results])


def _results(stored: bytes) -> list[EventResult]:
    return [
        EventResult(index, event_id, Outcome(outcome), reason)
        for index, event_id, outcome, reason in orjson.loads(stored)
    ]


def valid_key(key: str) -> bool:
    return 1 <= len(key) <= MAX_KEY_CHARS and key.isprintable() and key.isascii()
