"""Costs as exact integers of 1e-12 USD (the ledger's scale), for sums kept by the million.

Detector state adds and compares these integers: exact, compact in a
changelog, and several times faster than ``Decimal`` in the hot path.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from fractions import Fraction

from schemas.money import ROUNDING_MODE, SCALE

UNITS_PER_USD = 10**12
RATIO_PLACES = Decimal("0.0001")


def to_units(cost: Decimal) -> int:
    """A cost at the ledger's scale; a finer one (never produced by pricing) rounds half-even."""
    return int(cost.scaleb(12).to_integral_value(rounding=ROUNDING_MODE))


@functools.lru_cache(maxsize=64)
def units_of(setting: Decimal) -> int:
    """:func:`to_units` of a setting, worked out once (each new detector reads it)."""
    return to_units(setting)


@functools.lru_cache(maxsize=64)
def fraction_of(setting: Decimal) -> Fraction:
    """A setting as a fraction, worked out once (each new detector reads it)."""
    return Fraction(setting)


def to_usd(units: int | Fraction) -> Decimal:
    """Exact for whole units; a fraction of a unit is rounded half-even at 1e-12 USD."""
    if isinstance(units, int):
        return Decimal(units).scaleb(-12)
    return (
        (Decimal(units.numerator) / Decimal(units.denominator))
        .scaleb(-12)
        .quantize(SCALE, rounding=ROUNDING_MODE)
    )


def ratio(observed: Fraction | int, baseline: Fraction | int) -> Decimal:
    """A score for the alert's reader, to four places; 0 when there is no baseline."""
    if baseline == 0:
        return Decimal(0)
    exact = Fraction(observed) / Fraction(baseline)
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
        RATIO_PLACES, rounding=ROUNDING_MODE
    )
