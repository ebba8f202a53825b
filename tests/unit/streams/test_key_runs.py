"""A batch's runs laid end to end: each run's values a slice of a column gathered once."""

from __future__ import annotations

import numpy as np

from streams.key_runs import KeyRuns


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
