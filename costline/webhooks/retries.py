"""Which answers end a delivery, and how long to wait before the next attempt.

Only what may pass is retried: no answer (refused, reset, timed out), a
server error, 408 Request Timeout, 425 Too Early and 429 Too Many Requests.
Any other answer outside 2xx (a 400, a 401 from a receiver whose secret was
rotated, a 404, a redirect) is the receiver's considered refusal: retrying
it for days would only hide it, so the delivery fails at once, is logged,
and waits for `costline webhooks redeliver`.
"""

from __future__ import annotations

from enum import StrEnum

_RETRIED_CODES = frozenset({408, 425, 429})


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def status_after(http_status: int) -> DeliveryStatus:
    """What a receiver's HTTP status makes of the delivery."""
    if 200 <= http_status < 300:
        return DeliveryStatus.DELIVERED
    if http_status >= 500 or http_status in _RETRIED_CODES:
        return DeliveryStatus.PENDING
    return DeliveryStatus.FAILED


def retry_delay_s(attempts: int, base_s: float, max_s: float) -> float:
    """The wait after the ``attempts``-th failed attempt: base, doubling, capped.

    No jitter: one sender process spreads its own attempts, and a fixed
    schedule is what a receiver's operator can reason about.
    """
    if attempts < 1:
        raise ValueError("attempts counts from 1")
    return min(base_s * 2.0 ** min(attempts - 1, 62), max_s)
