"""Argument types for ``costline``: each checks its value when the command line is parsed.

A bad value is refused before anything connects to Kafka or ClickHouse,
with one line naming the option and what it expects. The read side (billing)
loads only when a value is checked: every command builds the whole parser,
and ``costline worker`` has no use for billing's modules and schemas.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from decimal import Decimal

__all__ = ["amount", "groupings", "instant", "period", "window"]


def instant(text: str) -> datetime:
    """An ISO 8601 instant (``2026-11-03T10:00:00Z``, ``2026-11-03``); without an offset it is UTC."""
    from billing import inputs
    from billing.exceptions import BillingError

    try:
        return inputs.instant(text)
    except BillingError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def period(text: str) -> str:
    """A UTC month, ``YYYY-MM``, between 1970-01 and 2099-12; returned as its label."""
    from billing import inputs
    from billing.exceptions import BillingError

    try:
        return inputs.period(text).label
    except BillingError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def groupings(text: str) -> list[str]:
    """A comma-separated subset of customer, agent, category, window, each at most once."""
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


def window(text: str) -> str:
    """A window size: 1m, 1h or 1d."""
    from billing.costs import WINDOW_SIZES  # imports the ClickHouse client: only when asked

    if text.strip() not in WINDOW_SIZES:
        raise argparse.ArgumentTypeError(f"a window is one of {', '.join(WINDOW_SIZES)}, not {text!r}")
    return text.strip()


def amount(text: str) -> Decimal:
    """Money as a plain decimal, ``12.50``: finite, not negative, below 10^15."""
    from billing import inputs
    from billing.exceptions import BillingError

    try:
        return inputs.amount(text)
    except BillingError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
