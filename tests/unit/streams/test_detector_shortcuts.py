"""A detector kept in memory judges as one read back from its bytes before every event.

The detectors keep running sums of the newest day (and the trailing minutes)
so that most events are judged without adding the kept days up again; a
detector read from bytes has none and adds them up. Both must agree on every
judgement, verdict and byte, whatever the order of the events.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from streams.anomalies import (
    HourlySpend,
    HourlySpikeSettings,
    RequestCostHistory,
    RequestCostSettings,
    TokenDrift,
    TokenDriftSettings,
)

START = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())


def traffic(seed: int, count: int = 6000) -> list[tuple[int, int]]:
    """An agent's requests over six weeks: busy and quiet days, bursts, late and very late events."""
    rng = random.Random(seed)
    at, out = START, []
    for _ in range(count):
        at += rng.choice((1, 30, 200, 900, 3600, 20_000))
        late = rng.random()
        when = (
            at - 3 * 86_400
            if late < 0.02
            else at - 40 * 86_400
            if late < 0.025
            else at - 300
            if late < 0.1
            else at
        )
        amount = rng.randrange(1, 2000) * (40 if rng.random() < 0.01 else 1) * 10**7
        out.append((when, amount))
    return out


def _same(make: Callable[[], object], load: Callable[[bytes], object], events: list[tuple[int, int]]) -> None:
    kept, fresh = make(), make()
    for epoch_s, amount in events:
        fresh = load(fresh.to_bytes())  # type: ignore[attr-defined]
        assert kept.judge(epoch_s, amount) == fresh.judge(epoch_s, amount)  # type: ignore[attr-defined]
        at = datetime.fromtimestamp(epoch_s, UTC)
        assert kept.verdict(at) == fresh.verdict(at)  # type: ignore[attr-defined]
    assert kept.to_bytes() == fresh.to_bytes()  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_request_cost_history_judges_alike_kept_or_read_back(seed: int) -> None:
    settings = RequestCostSettings(min_requests=20, min_days=2)
    _same(lambda: RequestCostHistory("k", settings), lambda raw: RequestCostHistory.from_bytes(raw, settings),
          traffic(seed))  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_token_drift_judges_alike_kept_or_read_back(seed: int) -> None:
    settings = TokenDriftSettings(min_recent_requests=20, min_baseline_days=5)
    events = [(at, 500 + (at - START) // 3000 + amount // 10**9) for at, amount in traffic(seed)]
    _same(lambda: TokenDrift("k", settings), lambda raw: TokenDrift.from_bytes(raw, settings), events)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hourly_spend_judges_alike_kept_or_read_back(seed: int) -> None:
    settings = HourlySpikeSettings(floor=Decimal("0.01"))
    _same(
        lambda: HourlySpend("k", settings), lambda raw: HourlySpend.from_bytes(raw, settings), traffic(seed)
    )
