"""Instants, months and amounts as a person types them: parsed and bounded once, for the CLI and the API.

A bad value is a :class:`BillingError` naming what was expected; the CLI
shows it as a usage error, the API as a 400.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from billing.exceptions import BillingError
from billing.periods import Period

# Instants and months the ledger and invoices can hold: ClickHouse's Date
# ends in 2149, and months far outside this range are typing mistakes.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
FIRST_YEAR, LAST_YEAR = EARLIEST.year, LATEST.year - 1
# The most a money option may be: beyond it a figure is a typo, and the
# ledger's Decimal(38, 12) has 26 integer digits.
MAX_AMOUNT = Decimal(10) ** 15

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


def instant(text: str) -> datetime:
    """An ISO 8601 instant (``2026-11-03T10:00:00Z``, ``2026-11-03``); without an offset it is UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BillingError(f"expected an ISO 8601 instant like 2026-11-03T10:00:00Z, not {text!r}") from None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not EARLIEST <= value <= LATEST:
        raise BillingError(f"{text!r} is outside {EARLIEST:%Y-%m-%d} .. {LATEST:%Y-%m-%d} (UTC)")
    return value.astimezone(UTC)


def period(text: str) -> Period:
    """A UTC month, ``YYYY-MM``, between 1970-01 and 2099-12."""
    match = _PERIOD.fullmatch(text.strip())
    if not match:
        raise BillingError(f"expected a month like 2026-11 (YYYY-MM), not {text!r}")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise BillingError(f"{text!r} has no month {month:02d}; months are 01 to 12")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise BillingError(
            f"{text!r} is outside {FIRST_YEAR}-01 .. {LAST_YEAR}-12, the months Costline bills"
        )
    return Period(year, month)


def amount(text: str) -> Decimal:
    """Money as a plain decimal, ``12.50``: finite, not negative, below 10^15."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise BillingError(f"expected an amount like 12.50, not {text!r}") from None
    if not value.is_finite() or value < 0 or value >= MAX_AMOUNT:
        raise BillingError(f"expected a non-negative amount below {MAX_AMOUNT:,.0f}, not {text!r}")
    return value
