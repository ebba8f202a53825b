"""Money: exact ``Decimal`` amounts, never floats.

Every cost and amount in the pipeline is kept at ``SCALE`` (1e-12 USD, the
ledger's ``Decimal(38, 12)``), computed exactly or rounded half-even at the
12th place once per event. Money is rounded to the cent once, at the
invoice line (:func:`to_cents`); display rounds a copy to micro-dollars.
Lives with the contracts because the contracts need the scale too.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

SCALE = Decimal("1e-12")  # the ledger's unit
CENT = Decimal("0.01")
MICRO = Decimal("0.000001")  # how costs are shown, never stored
ZERO = Decimal(0)
ROUNDING_MODE = ROUND_HALF_EVEN  # "banker's rounding"
ROUNDING_RULE = (
    "Each line is rounded once, half-even (banker's rounding), to the cent; totals add rounded lines."
)


def to_cents(amount: Decimal) -> Decimal:
    """An invoice line's amount: the one rounding money goes through."""
    return amount.quantize(CENT, rounding=ROUNDING_MODE)


def to_micros(amount: Decimal) -> Decimal:
    """For display only."""
    return amount.quantize(MICRO, rounding=ROUNDING_MODE)
