"""The worker never collects inside a batch; what the batch leaves is collected after it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streams.garbage_collection import between_batches


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


@pytest.mark.usefixtures("collector_on")
def test_a_batch_runs_without_automatic_collections_and_they_resume_after_it() -> None:
    with between_batches():
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_a_failed_batch_gives_the_collector_back() -> None:
    with pytest.raises(RuntimeError), between_batches():
        raise RuntimeError("ClickHouse went away")
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_a_collector_someone_else_turned_off_stays_off() -> None:
    gc.disable()
    with between_batches():
        assert not gc.isenabled()
    assert not gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_cycles_made_inside_a_batch_are_collected_after_it() -> None:
    class Node:
        other: object = None

    with between_batches():
        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
    assert gc.collect() >= 2
