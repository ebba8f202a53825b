"""The worker's garbage collector settings, shared by ``costline worker`` and ``bench.hotpath``.

The worker holds millions of small long-lived objects (window state, dedup
ids) and a batch allocates a few million more; the default thresholds
(700, 10, 10) rescan them every few thousand allocations, which cost more
than the pricing itself (``bench.hotpath`` prints the batch path under both).

A batch of 1,000 messages (~100k events) holds over a million tracked objects
at its peak. A young-generation collection that falls inside it traverses all
of them, 90-370 ms each, to find almost nothing: the batch's objects are freed
by reference counting when it ends. So the worker never collects inside a batch
(:func:`between_batches`); the collections it owes run once the batch is gone,
over what survived it (bench/RESULTS.md, "Session 14, the collector").

Its imports (~1,060 modules) are most of a restarted worker's start before Faust's. At the default
thresholds they ran ~170 collections of a growing heap, ~0.1 s of CPU, to free ~2,000 objects; so
``costline worker`` sets the thresholds before it imports the worker (:func:`collect_rarely`), and what
the imports leave, a few thousand objects of garbage too, is frozen with them (bench/RESULTS.md,
"Session 23, the worker's imports").
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (200_000, 50, 1000)


def collect_rarely() -> None:
    """The worker's thresholds, without the freeze: for its imports, before there is an app to freeze."""
    gc.set_threshold(*THRESHOLDS)


def tune_for_worker() -> None:
    """Collect rarely, and never look again at what exists now (imports, the app)."""
    collect_rarely()
    gc.freeze()


@contextmanager
def between_batches() -> Iterator[None]:
    """No automatic collection inside; the count it leaves triggers one after, if due."""
    if not gc.isenabled():  # someone else owns the collector (a test, a profiler)
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
