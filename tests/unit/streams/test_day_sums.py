"""A batch's runs summed per key at once, as a loop over each run's events gives them."""

from __future__ import annotations

import random

import numpy as np
import pytest

from streams.day_sums import DAY, day_sums
from streams.key_runs import KeyRuns


def _expected(run: list[int], seconds: list[int], values: list[int], counted: list[bool]) -> tuple[int, ...]:
    picked = [i for i in run if counted[i]]
    if not picked:
        return (-1, 0)
    days = {seconds[i] // DAY for i in picked}
    vals = [values[i] for i in picked]
    return (days.pop() if len(days) == 1 else -1, len(picked), sum(vals), max(vals), min(vals),
            max(seconds[i] for i in picked), picked[0], picked[-1])  # fmt: skip


def _runs(keys: list[int], seconds: list[int]) -> tuple[list[list[int]], KeyRuns, np.ndarray, np.ndarray]:
    """The events' runs by key (each run's positions, in order), laid out as the detectors lay them,
    with the laid order and the seconds in it."""
    runs: dict[int, list[int]] = {}
    for i, key in enumerate(keys):
        runs.setdefault(key, []).append(i)
    laid = KeyRuns(runs.values())
    return list(runs.values()), laid, laid.positions(), laid.take(np.array(seconds, np.int64))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("some", [False, True])
def test_each_run_s_day_count_sum_extremes_newest_and_ends_are_its_events(seed: int, some: bool) -> None:
    rng = random.Random(seed)
    n = 400
    keys = [rng.randrange(40) for _ in range(n)]
    seconds = [DAY * 20_000 + rng.choice((0, 0, 0, DAY)) + rng.randrange(DAY) - DAY // 2 for _ in range(n)]
    values = [rng.randrange(-(10**12), 10**15) for _ in range(n)]
    counted = [rng.random() < 0.7 for _ in range(n)] if some else [True] * n
    runs, laid, order, gathered_seconds = _runs(keys, seconds)
    mask = np.array(counted)[order] if some else None
    sums = day_sums(order, laid.starts, gathered_seconds, values, mask)
    assert sums is not None
    for at, run in enumerate(runs):
        expected = _expected(run, seconds, values, counted)
        got = (sums.days[at], sums.counts[at], sums.sums[at], sums.most[at], sums.least[at],
               sums.newest[at], sums.firsts[at], sums.lasts[at])  # fmt: skip
        assert got[: len(expected)] == expected


def test_values_whose_sums_might_pass_64_bits_are_left_to_python() -> None:
    laid = KeyRuns([[0, 1], [2]])
    seconds = laid.take(np.array([DAY, DAY, DAY], np.int64))
    assert day_sums(laid.positions(), laid.starts, seconds, [2**62, 2**62, 1]) is None
    assert day_sums(laid.positions(), laid.starts, seconds, [2**64, 1, 1]) is None
    fits = day_sums(laid.positions(), laid.starts, seconds, [2**61, 2**61, -(2**61)])
    assert fits is not None and fits.sums == [2**62, -(2**61)]


@pytest.mark.parametrize("share", [0.0, 0.05, 0.5])
def test_runs_with_few_or_no_events_counted_sum_only_those(share: float) -> None:
    """Sparse masks: many runs with none counted (no day, none counted, their first event for both ends),
    the others summed over their counted events alone."""
    rng = random.Random(int(share * 100))
    n = 300
    keys = [rng.randrange(60) for _ in range(n)]
    seconds = [DAY * 20_000 + rng.randrange(2 * DAY) for _ in range(n)]
    values = [rng.randrange(0, 10**9) for _ in range(n)]
    counted = [rng.random() < share for _ in range(n)]
    runs, laid, order, gathered_seconds = _runs(keys, seconds)
    sums = day_sums(order, laid.starts, gathered_seconds, values, np.array(counted)[order])
    assert sums is not None
    for at, run in enumerate(runs):
        expected = _expected(run, seconds, values, counted)
        got = (sums.days[at], sums.counts[at], sums.sums[at], sums.most[at], sums.least[at],
               sums.newest[at], sums.firsts[at], sums.lasts[at])  # fmt: skip
        if expected[1]:
            assert got == expected
        else:
            assert got[:2] == (-1, 0) and got[6] == got[7] == run[0]
