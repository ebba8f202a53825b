"""Argument types for ``costline``: each checks its value when the command line is parsed.

A bad value is refused before anything connects to Kafka or ClickHouse,
with one line naming the option and what it expects.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

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
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 instant like 2026-11-03T10:00:00Z, not {text!r}"
        ) from None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not EARLIEST <= value <= LATEST:
        raise argparse.ArgumentTypeError(
            f"{text!r} is outside {EARLIEST:%Y-%m-%d} .. {LATEST:%Y-%m-%d} (UTC)"
        )
    return value.astimezone(UTC)


def period(text: str) -> str:
    """A UTC month, ``YYYY-MM``, between 1970-01 and 2099-12; returned as its label."""
    match = _PERIOD.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected a month like 2026-11 (YYYY-MM), not {text!r}")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise argparse.ArgumentTypeError(f"{text!r} has no month {month:02d}; months are 01 to 12")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise argparse.ArgumentTypeError(
            f"{text!r} is outside {FIRST_YEAR}-01 .. {LAST_YEAR}-12, the months Costline bills"
        )
    return f"{year:04d}-{month:02d}"


def groupings(text: str) -> list[str]:
    """A comma-separated subset of agent, category, window, each at most once."""
    from billing.costs import GROUPINGS  # imports the ClickHouse client: only when asked

    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in GROUPINGS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"cannot group by {', '.join(repr(u) for u in unknown)}; "
            f"choose from {', '.join(GROUPINGS)} (comma-separated)"
        )
    if len(set(chosen)) != len(chosen):
        raise argparse.ArgumentTypeError(f"{text!r} names a grouping twice")
    return chosen


def amount(text: str) -> Decimal:
    """Money as a plain decimal, ``12.50``: finite, not negative, below 10^15."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"expected an amount like 12.50, not {text!r}") from None
    if not value.is_finite() or value < 0 or value >= MAX_AMOUNT:
        raise argparse.ArgumentTypeError(
            f"expected a non-negative amount below {MAX_AMOUNT:,.0f}, not {text!r}"
        )
    return value
