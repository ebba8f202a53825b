"""The webhook signature: HMAC-SHA256 over ``<timestamp>.<body>``, Stripe's scheme.

The header reads ``Costline-Signature: t=1733312345,v1=<hex digest>``. The
timestamp is signed with the body so a captured delivery cannot be replayed
later than the receiver's tolerance; ``v1`` names the scheme so a new one
can be sent beside it while receivers move over.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Costline-Signature"
ALERT_ID_HEADER = "Costline-Alert-Id"
SECRET_PREFIX = "whsec_"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """The signature header is missing, malformed, stale or does not match."""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},{SCHEME}={digest(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance_s: int = DEFAULT_TOLERANCE_S) -> int:
    """The signed timestamp, if ``header`` signs ``body`` with ``secret``; else SignatureError.

    What a receiver runs on the raw request body, before parsing it.
    """
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(name, []).append(value)
    stamps = fields.get("t", [])
    if len(stamps) != 1 or not stamps[0].isdigit():
        raise SignatureError(f"{SIGNATURE_HEADER} has no timestamp (t=...)")
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError(f"signed at {timestamp}, more than {tolerance_s} s from now ({now})")
    expected = digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, given) for given in fields.get(SCHEME, [])):
        raise SignatureError(f"no {SCHEME} signature matches the body")
    return timestamp
