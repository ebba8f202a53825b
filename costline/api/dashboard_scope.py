"""What every dashboard route shares: whose figures a key may read, and how money and times leave.

A key bound to one customer sees that customer only: naming another is a 403, naming none means its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from costline.api.keys import ApiKey
from costline.api.service import ApiError


def customer_for(key: ApiKey, asked: str) -> str:
    if key.customer_id is None:
        return asked
    if asked and asked != key.customer_id:
        raise ApiError(403, f"this key reads only customer {key.customer_id!r}, not {asked!r}")
    return key.customer_id


def money(amount: Decimal) -> str:
    return format(amount, "f")


def optional_money(amount: Decimal | None) -> str | None:
    return None if amount is None else money(amount)


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
