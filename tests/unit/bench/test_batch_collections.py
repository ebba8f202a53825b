"""bench.batch_collections runs the worker's batch path with a commit's spend modules and this tree's,
and finds the same alerts, records and windows (against this tree's own commit, they are the same code)."""

from __future__ import annotations

import gc

import orjson
import pytest

from bench import batch_collections


def test_a_commits_spend_modules_and_this_trees_write_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    thresholds = gc.get_threshold()
    try:  # the bench tunes the collector as the worker does: not for the tests after this one
        assert batch_collections.main(["--against", "HEAD", "--events", "3000", "--batch-messages", "10",
                                       "--span-s", "1", "--rounds", "2"]) == 0  # fmt: skip
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    figures = orjson.loads(capsys.readouterr().out.splitlines()[-1])
    assert figures["same"] and figures["events"] == 3000 and figures["batches"] > 1
    assert figures["records"] > 0 and len(figures["samples"]["new_batch_s"]) == 2
