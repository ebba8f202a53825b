"""The export progress bar: rows written out of the total, on one redrawn stderr line."""

from __future__ import annotations

import io

from costline.cli_progress import ProgressBar


def test_progress_is_one_line_of_rows_written_out_of_total() -> None:
    shown = io.StringIO()
    bar = ProgressBar(enabled=True, stream=shown, every=2)

    rows = [(n,) for n in range(6)]
    assert list(bar.counted(rows, "usage 2026-11")) == rows
    bar.done()

    drawn = shown.getvalue()
    assert drawn.count("\r") == 4 and drawn.endswith("6/6 rows\n")
    assert "[" + "#" * 10 + "." * 20 + "] 2/6 rows" in drawn
    assert drawn.startswith("\rexporting usage 2026-11 [")


def test_a_bar_that_is_not_enabled_draws_nothing() -> None:
    shown = io.StringIO()
    bar = ProgressBar(enabled=False, stream=shown, every=1)

    assert list(bar.counted([(1,), (2,)], "usage 2026-11")) == [(1,), (2,)]
    bar.done()

    assert shown.getvalue() == ""
