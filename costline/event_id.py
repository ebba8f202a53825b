"""New event ids: UUIDv7 (RFC 9562), the event's millisecond then random bits.

An event id is the caller's idempotency key, made once per event and sent
again with every retry; the worker accepts any id. This is the id the SDK
recommends. The ledger is sorted by customer, time, then id, so ids that
begin with the event's time share their first bytes with their neighbours
and compress, where random (v4) UUIDs are 16 bytes that never do
(bench/RESULTS.md, session 6). 74 random bits keep ids made in the same
millisecond apart.
"""

from __future__ import annotations

import random
import secrets
import uuid
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLIS_MAX = (1 << 48) - 1
_VERSION_7 = 0x7 << 76
_VARIANT_RFC = 0b10 << 62


def new_event_id(at: datetime | None = None, rng: random.Random | None = None) -> str:
    """A UUIDv7 in canonical form for an event that occurred ``at`` (default: now).

    ``rng``: a seeded source for reproducible ids (benchmarks, tests); by
    default the operating system's.
    """
    millis = ((at or datetime.now(UTC)) - _EPOCH) // timedelta(milliseconds=1)
    if not 0 <= millis <= _MILLIS_MAX:
        raise ValueError(f"a UUIDv7 holds times from 1970 to 10889, not {at}")
    bits = rng.getrandbits(74) if rng is not None else secrets.randbits(74)
    rand_a, rand_b = bits >> 62, bits & ((1 << 62) - 1)
    return str(uuid.UUID(int=millis << 80 | _VERSION_7 | rand_a << 64 | _VARIANT_RFC | rand_b))
