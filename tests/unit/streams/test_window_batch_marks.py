"""A window's mark before a batch: its stored ``last_offset``, or -1 where it is new."""

from __future__ import annotations

from streams.aggregation import WindowAggregate
from streams.window_batch import _marks


def test_new_windows_are_marked_below_every_position() -> None:
    assert _marks([None, None]).tolist() == [-1, -1]
    assert _marks([]).tolist() == []


def test_stored_windows_are_marked_by_their_last_offset_among_new_ones_or_alone() -> None:
    stored = [WindowAggregate(last_offset=5), WindowAggregate(last_offset=7)]
    assert _marks([stored[0], None, stored[1]]).tolist() == [5, -1, 7]
    assert _marks(stored).tolist() == [5, 7]
