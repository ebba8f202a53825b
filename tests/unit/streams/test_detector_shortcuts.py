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
from typing import Any

import pytest

from streams.anomalies import (
    HourlySpend,
    HourlySpikeSettings,
    RequestCostHistory,
    RequestCostSettings,
    TokenDrift,
    TokenDriftSettings,
)
from streams.anomalies.verdict import Judgement

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


def _runs(rng: random.Random, events: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """The events cut into runs of 1-30, each cut short where its day changes (a key's run in a batch)."""
    runs: list[list[tuple[int, int]]] = []
    at = 0
    while at < len(events):
        run = [events[at]]
        size = rng.randint(1, 30)
        while at + len(run) < len(events) and len(run) < size:
            run.append(events[at + len(run)])
        at += len(run)
        runs.append(run)
    return runs


def _absorbs_alike(
    make: Callable[[], Any], load: Callable[[bytes], Any], events: list[tuple[int, int]], seed: int
) -> tuple[int, int]:
    """Each run of one day absorbed at once (``absorb_sums``) where the detector takes it, else judged event
    by event: the same bytes as every event judged in turn, and never a run with a firing event taken."""
    rng = random.Random(seed)
    whole, single = make(), make()
    taken = refused = 0
    for run in _runs(rng, events):
        if rng.random() < 0.2:
            whole = load(whole.to_bytes())  # read back: no running sums
        before = whole.to_bytes()
        days = {epoch_s // 86_400 for epoch_s, _ in run}
        values = [value for _, value in run]
        judged = [single.judge(epoch_s, value) for epoch_s, value in run]
        if len(days) == 1 and whole.absorb_sums(days.pop(), sum(values), len(run), max(values), min(values)):
            taken += 1
            assert Judgement.FIRED not in judged
        else:
            refused += 1
            assert whole.to_bytes() == before  # nothing changed
            assert [whole.judge(epoch_s, value) for epoch_s, value in run] == judged
        assert whole.to_bytes() == single.to_bytes()
    return taken, refused


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize(
    ("min_requests", "min_days", "k"), [(50, 3, "2"), (1, 0, "1.5"), (5, 1, "1.1"), (20, 2, "3")]
)
def test_a_request_cost_run_absorbed_at_once_is_its_requests_judged_in_turn(
    seed: int, min_requests: int, min_days: int, k: str
) -> None:
    settings = RequestCostSettings(k=Decimal(k), min_requests=min_requests, min_days=min_days)
    events = [(at, amount if random.Random(at).random() > 0.01 else -amount) for at, amount in traffic(seed)]
    taken, refused = _absorbs_alike(
        lambda: RequestCostHistory("k", settings), lambda raw: RequestCostHistory.from_bytes(raw, settings),
        events, seed,
    )  # fmt: skip
    assert taken and refused


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize(("recent", "baseline_days"), [(100, 14), (1, 1), (20, 5)])
def test_a_token_drift_run_absorbed_at_once_is_its_requests_judged_in_turn(
    seed: int, recent: int, baseline_days: int
) -> None:
    settings = TokenDriftSettings(min_recent_requests=recent, min_baseline_days=baseline_days)
    events = [(at, 500 + (at - START) // 3000 + amount // 10**9) for at, amount in traffic(seed)]
    taken, refused = _absorbs_alike(
        lambda: TokenDrift("k", settings), lambda raw: TokenDrift.from_bytes(raw, settings), events, seed
    )
    assert taken and refused
