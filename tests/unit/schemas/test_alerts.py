"""Alert ids: a hash of the condition's parts, the same text however the period's start is written out."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pydantic_core import TzInfo

from schemas.alerts import AlertRule, AlertStatus, _isoformat, alert_id


def _times() -> list[datetime]:
    """Instants in UTC across the years a datetime holds, with and without microseconds."""
    rng = random.Random(19)
    times = [datetime(year, 1, 1, tzinfo=UTC) for year in (1, 9, 99, 999, 1000, 1970, 2026, 9999)]
    for _ in range(2_000):
        at = datetime(rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                      rng.randint(0, 59), rng.randint(0, 59), tzinfo=UTC)  # fmt: skip
        micros = rng.choice([0, 1, 10, 500_000, 999_999, rng.randint(0, 999_999)])
        times.append(at.replace(microsecond=micros))
    return times


def test_an_instant_in_utc_is_written_as_isoformat_writes_it() -> None:
    assert [_isoformat(at) for at in _times()] == [at.isoformat() for at in _times()]


class _Later(datetime):
    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return "later"


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 11, 20, 9, 0, 1, 5, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 11, 20, 9, 0, 1, tzinfo=timezone(timedelta(seconds=30))),  # orjson: minutes only
        datetime(2026, 11, 20, 9, 0, 1, 7, tzinfo=timezone(timedelta(0), "Z")),  # UTC's offset, not UTC
        datetime(2026, 11, 20, 9, 0, 1, 7, tzinfo=ZoneInfo("UTC")),
        datetime(2026, 11, 20, 9, 0, 1, 7, tzinfo=TzInfo(0)),  # as pydantic validates "…Z"
        _Later(2026, 11, 20, 9, 0, 1, 7, tzinfo=UTC),  # a subclass may write itself otherwise
        datetime(2026, 11, 20, 9, 0, 1),  # naive
    ],
)
def test_any_other_instant_is_written_by_isoformat_itself(at: datetime) -> None:
    assert _isoformat(at) == at.isoformat()


def test_an_alerts_id_is_the_hash_of_its_conditions_parts() -> None:
    """The id receivers deduplicate by: its definition must never change."""
    at = datetime(2026, 11, 20, 9, 0, 0, 6310, tzinfo=UTC)
    parts = ("request_cost", "cust-1\x1f", "req-7", "2026-11-20T09:00:00.006310+00:00", "0.5", "firing")
    expected = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    ident = alert_id(AlertRule.REQUEST_COST, "cust-1\x1f", "req-7", at, Decimal("0.50"), AlertStatus.FIRING)
    assert ident == expected
