"""The worker's garbage collector settings, shared by ``costline worker`` and ``bench.hotpath``.

The worker holds millions of small long-lived objects (window state, dedup
ids) and a batch allocates a few million more; the default thresholds
(700, 10, 10) rescan them every few thousand allocations, which cost more
than the pricing itself (``bench.hotpath`` prints the batch path under both).
"""

from __future__ import annotations

import gc

THRESHOLDS = (200_000, 50, 1000)


def tune_for_worker() -> None:
    """Collect rarely, and never look again at what exists now (imports, the app)."""
    gc.set_threshold(*THRESHOLDS)
    gc.freeze()
