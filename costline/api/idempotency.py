"""Idempotency-Key: a repeated request gets the first one's results, not a second delivery.

Kept in this process's memory, per API key, for ``ttl_s`` (24 h by default)
and at most ``max_keys`` keys (the oldest forgotten first). After a restart,
or for a key forgotten early, a repeat is produced again and the worker's
own dedup by ``event_id`` (24 h) still counts each event once: the key
saves the second delivery, the event ids guarantee the bill.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from costline.api.batches import EventResult

MAX_KEY_CHARS = 255


@dataclass(slots=True)
class Remembered:
    body_sha256: bytes
    expires_at: float
    results: list[EventResult] | None = None  # None while the first request is still running


class IdempotencyKeys:
    def __init__(self, ttl_s: float, max_keys: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], Remembered] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def claim(self, api_key_id: str, key: str, body_sha256: bytes) -> Remembered | None:
        """The earlier request's entry, or None after making this request the first."""
        now = self._clock()
        self._expire(now)
        found = self._entries.get((api_key_id, key))
        if found is not None:
            return found
        self._entries[(api_key_id, key)] = Remembered(body_sha256, now + self.ttl_s)
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)
        return None

    def complete(self, api_key_id: str, key: str, results: list[EventResult]) -> None:
        entry = self._entries.get((api_key_id, key))
        if entry is not None:
            entry.results = results

    def forget(self, api_key_id: str, key: str) -> None:
        """The request failed: a retry with this key is a first attempt."""
        self._entries.pop((api_key_id, key), None)

    def _expire(self, now: float) -> None:
        # Entries are in claim order and share one ttl, so the expired ones lead.
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if oldest.expires_at > now:
                break
            self._entries.popitem(last=False)


def valid_key(key: str) -> bool:
    return 1 <= len(key) <= MAX_KEY_CHARS and key.isprintable() and key.isascii()
