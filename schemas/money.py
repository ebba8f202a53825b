"""Money: exact ``Decimal`` amounts, never floats.

Every cost and amount in the pipeline is kept at ``SCALE`` (1e-12 USD, the
ledger's ``Decimal(38, 12)``), computed exactly or rounded half-even at the
12th place once per event. Money is rounded to the cent once, at the
invoice line (:func:`to_cents`); display rounds a copy to micro-dollars.
Lives with the contracts because the contracts need the scale too.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal

SCALE = Decimal("1e-12")  # the ledger's unit
PICO_DIGITS = 12  # SCALE's: a pico-dollar (int) is an amount's digits at SCALE
CENT = Decimal("0.01")
MICRO = Decimal("0.000001")  # how costs are shown, never stored
ZERO = Decimal(0)
ROUNDING_MODE = ROUND_HALF_EVEN  # "banker's rounding"
# Shifting the point must not round: 50 digits hold any amount a Decimal(38, 12) holds.
_SHIFT = Context(prec=50)
ROUNDING_RULE = (
    "Each line is rounded once, half-even (banker's rounding), to the cent; totals add rounded lines."
)


def to_cents(amount: Decimal) -> Decimal:
    """An invoice line's amount: the one rounding money goes through."""
    return amount.quantize(CENT, rounding=ROUNDING_MODE)


def to_micros(amount: Decimal) -> Decimal:
    """For display only."""
    return amount.quantize(MICRO, rounding=ROUNDING_MODE)


def to_pico(amount: Decimal) -> int:
    """An amount at :data:`SCALE` as whole pico-dollars; finer digits are a bug upstream, not rounded here."""
    units = amount.scaleb(PICO_DIGITS, _SHIFT)
    whole = int(units)
    if whole != units:
        raise ValueError(f"{amount} USD is finer than the ledger's scale (1e-12)")
    return whole


def from_pico(units: int) -> Decimal:
    """Whole pico-dollars as a Decimal amount at :data:`SCALE`, exactly."""
    return Decimal(units).scaleb(-PICO_DIGITS, _SHIFT)
