"""bench.sink_encode encodes the worker's batches by a commit's sink modules and this tree's, and
finds the same bytes (against this tree's own commit, they are the same code)."""

from __future__ import annotations

import gc

import orjson
import pytest

from bench import sink_encode


def test_a_commits_sink_and_this_trees_write_the_same_bodies(capsys: pytest.CaptureFixture[str]) -> None:
    thresholds = gc.get_threshold()
    try:  # the bench tunes the collector as the worker does: not for the tests after this one
        assert (
            sink_encode.main(["--against", "HEAD", "--events", "3000", "--batch", "10", "--rounds", "1"]) == 0
        )
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    figures = orjson.loads(capsys.readouterr().out.splitlines()[-1])
    assert figures["events"] == 3000 and figures["against"] == "HEAD"
    assert set(figures["ledger"]) == set(figures["windows"]) == {"old", "new"}
