"""A batch's runs laid end to end: each run's values a slice of a column gathered once."""

from __future__ import annotations

import numpy as np

from streams.key_runs import KeyRuns, stable_order


def test_each_run_reads_its_own_events_values_as_a_slice_of_the_gathered_column() -> None:
    column = ["e0", "e1", "e2", "e3", "e4", "e5"]
    runs = [[1, 4, 5], [0], [2, 3]]

    laid = KeyRuns(runs)
    gathered = laid.gather(column)

    assert laid.starts == [0, 3, 4]
    for run, start in zip(runs, laid.starts, strict=True):
        assert list(gathered[start : start + len(run)]) == [column[i] for i in run]


def test_a_batch_of_one_event_or_none_gathers_too() -> None:
    assert list(KeyRuns([[0]]).gather(["only"])) == ["only"]
    assert list(KeyRuns([]).gather([])) == []


def test_events_of_a_run_are_one_stretch_only_when_none_between_them_is_left_out() -> None:
    laid = KeyRuns([[1, 4, 5, 7], [0, 2, 3, 6]])

    assert laid.span([4, 5, 7]) == (1, 4)
    assert laid.span([0, 2, 3, 6]) == (4, 8)
    assert laid.span([1, 5, 7]) is None  # 4 left out
    assert laid.span([]) is None


def test_an_array_column_is_taken_in_the_runs_order_as_gather_reads_a_list() -> None:
    runs = [[1, 4, 5], [0], [2, 3]]
    column = [10, 11, 12, 13, 14, 15]
    laid = KeyRuns(runs)

    assert laid.take(np.array(column, np.int64)).tolist() == list(laid.gather(column))
    assert laid.sizes() == [3, 1, 2]
    assert KeyRuns([]).take(np.array([], np.int64)).tolist() == [] and KeyRuns([]).sizes() == []
    assert KeyRuns([[0]]).take(np.array([7], np.int64)).tolist() == [7]


def test_stable_order_is_numpy_s_stable_argsort_whatever_the_keys_span() -> None:
    rng = np.random.default_rng(12)
    for span in (1, 7, 1 << 16, (1 << 16) + 1, 1 << 20, 1 << 32, (1 << 32) + 5, 1 << 62):
        for low in (0, -(span // 2), 1 << 40):
            for size in (0, 1, 2, 300, 5000):
                key = (rng.integers(0, span, size, dtype=np.int64) + low).astype(np.int64)
                if size > 10:  # ties and the extremes of the span
                    key[:5] = low
                    key[5:10] = low + span - 1
                expected = np.argsort(key, kind="stable").tolist()
                assert stable_order(key).tolist() == expected, (span, low, size)


def test_runs_laid_from_arrays_are_the_runs_laid_from_lists() -> None:
    at = np.array([4, 1, 3, 0, 2], np.int64)
    laid = KeyRuns.laid(at, at.tolist(), [0, 2, 3])
    made = KeyRuns([[4, 1], [3], [0, 2]])
    assert (laid.order, laid.starts, laid.sizes()) == (made.order, made.starts, made.sizes())
    assert laid.positions().tolist() == made.positions().tolist()
    assert laid.gather("abcde") == made.gather("abcde") and laid.span([0, 2]) == made.span([0, 2])
