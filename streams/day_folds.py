"""The daily detectors' quiet keys of a batch, folded natively from the bytes stored to the bytes to store.

Most of a batch's request-cost and token-drift keys have events of one day that cannot fire
(:meth:`streams.anomaly_rules._Fold.quiet`): each takes its run's sum and count at once. In Python that
still reads each key's record and detector into objects, and writes them back: some ten thousand keys
a batch, a third of spend control's time with their encoding. Where the extension is built
(``streams._wire_scan.fold_quiet_days``), those keys go from the table's bytes to the new bytes in one
call: no record, detector or dict is made for them. A key it cannot fold as the reference would (a
record or state it does not read, a number past 64 bits, an event that may fire) is left to the
reference, unchanged. ``COSTLINE_DAY_FOLDS=python`` asks for the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.anomalies.picodollars import fraction_of
from streams.anomalies.request_cost import RequestCostSettings
from streams.anomalies.token_drift import TokenDriftSettings
from streams.native_extension import native_extension

_NATIVE = native_extension("COSTLINE_DAY_FOLDS", "fold_quiet_days")
REQUEST_COST, TOKEN_DRIFT = 0, 1  # the native fold's kinds
_INT64 = range(-(1 << 63), 1 << 63)


@dataclass(frozen=True, slots=True)
class DayFold:
    """The native fold of one daily detector's quiet keys, with its settings."""

    kind: int
    settings: tuple[int, ...]
    fold: Any  # streams._wire_scan.fold_quiet_days

    def __call__(
        self, keys: list[bytes], raws: list[bytes | None], columns: npt.NDArray[np.int64]
    ) -> tuple[list[int], list[bytes], list[int]]:
        """``columns``: per key, its run's day (-1: several, or none counted), count, sum, most, least,
        newest second, and its first counted event's position, its last's position and partition.
        Returns the folded keys' places and new records, and the places left to the reference."""
        return self.fold(self.kind, list(self.settings), keys, raws, columns)  # type: ignore[no-any-return]


def _fold(kind: int, settings: Sequence[int | Fraction]) -> DayFold | None:
    numbers: list[int] = []
    for value in settings:
        numbers += [value.numerator, value.denominator] if isinstance(value, Fraction) else [value]
    if _NATIVE is None or any(n not in _INT64 for n in numbers):
        return None  # the reference's integers have no bound
    return DayFold(kind, tuple(numbers), _NATIVE.fold_quiet_days)


def request_cost_fold(s: RequestCostSettings) -> DayFold | None:
    """The native fold of request-cost histories with settings ``s``; None: the reference's."""
    return _fold(REQUEST_COST, (s.window_days, s.min_requests, s.min_days, fraction_of(s.k)))


def token_drift_fold(s: TokenDriftSettings) -> DayFold | None:
    """The native fold of token drifts with settings ``s``; None: the reference's."""
    return _fold(TOKEN_DRIFT, (s.recent_days, s.baseline_days, fraction_of(s.ratio), s.min_recent_requests,
                               s.min_baseline_days))  # fmt: skip
