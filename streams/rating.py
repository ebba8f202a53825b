"""Rating: a period's quantities and a plan version to priced invoice lines. Pure.

Lines carry exact ``Decimal`` amounts; each line is rounded once, half-even,
to the cent (``ROUNDING``), and the invoice total is the sum of the rounded
lines, so the lines always add up to the total a customer sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from schemas.plans import (
    OutcomeCharge,
    PassThrough,
    PlanVersion,
    PlatformFee,
    SeatCharge,
    Tier,
    UsageCharge,
)

CENT = Decimal("0.01")
ROUNDING = "each line rounded once, half-even, to the cent"
ZERO = Decimal(0)


@dataclass(frozen=True)
class PeriodUsage:
    """What happened in a billing period, as the rating needs it."""

    meters: Mapping[str, Decimal] = field(default_factory=dict)  # meter -> quantity
    seats: Decimal = ZERO
    outcomes: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # type -> (count, value)
    usage_cost: Decimal = ZERO  # priced cost from the ledger
    credits: Decimal = ZERO  # prepaid balance available


@dataclass(frozen=True)
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal | None
    exact: Decimal
    included: Decimal = ZERO
    detail: str = ""

    @property
    def amount(self) -> Decimal:
        return self.exact.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Invoice:
    currency: str
    lines: list[Line]
    credits_applied: Decimal

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.credits_applied


def rate(plan: PlanVersion, usage: PeriodUsage) -> Invoice:
    lines: list[Line] = []
    minimum: PlatformFee | None = None
    for charge in plan.charges:
        match charge:
            case UsageCharge():
                lines.append(_usage_line(charge, usage.meters.get(charge.meter, ZERO)))
            case SeatCharge():
                lines.append(
                    Line(charge.description, usage.seats, charge.unit_price, usage.seats * charge.unit_price)
                )
            case PlatformFee(minimum=True):
                minimum = charge
            case PlatformFee():
                lines.append(Line(charge.description, Decimal(1), charge.amount, charge.amount))
            case OutcomeCharge():
                count, value = usage.outcomes.get(charge.outcome_type, (ZERO, ZERO))
                lines.extend(_outcome_lines(charge, count, value))
            case PassThrough():
                exact = usage.usage_cost * (1 + charge.margin)
                detail = f"cost {usage.usage_cost} + {charge.margin:%} margin"
                lines.append(Line(charge.description, usage.usage_cost, None, exact, detail=detail))
    if minimum is not None:
        shortfall = minimum.amount - sum((line.amount for line in lines), ZERO)
        if shortfall > 0:
            lines.append(
                Line(f"{minimum.description} (minimum commitment)", Decimal(1), shortfall, shortfall)
            )
    subtotal = sum((line.amount for line in lines), ZERO)
    credits = min(usage.credits, subtotal).quantize(CENT, rounding=ROUND_HALF_EVEN)
    return Invoice(plan.currency, lines, max(credits, ZERO))


def _usage_line(charge: UsageCharge, quantity: Decimal) -> Line:
    billable = max(quantity - charge.included, ZERO)
    description = charge.description or charge.meter
    if charge.pricing == "flat":
        return Line(description, quantity, charge.unit_price, billable * charge.unit_price, charge.included)
    if charge.pricing == "graduated":
        exact, parts = _graduated(charge.tiers, billable)
    else:
        exact, parts = _volume(charge.tiers, billable)
    return Line(description, quantity, None, exact, charge.included, "; ".join(parts))


def _graduated(tiers: list[Tier], units: Decimal) -> tuple[Decimal, list[str]]:
    exact, lower, parts = ZERO, ZERO, []
    for tier in tiers:
        upper = units if tier.up_to is None else min(units, tier.up_to)
        in_tier = max(upper - lower, ZERO)
        if in_tier > 0:
            exact += in_tier * tier.unit_price + tier.flat_fee
            parts.append(f"{in_tier} × {tier.unit_price}")
        if tier.up_to is None or units <= tier.up_to:
            break
        lower = tier.up_to
    return exact, parts


def _volume(tiers: list[Tier], units: Decimal) -> tuple[Decimal, list[str]]:
    tier = next(t for t in tiers if t.up_to is None or units <= t.up_to)
    return units * tier.unit_price + tier.flat_fee, [f"{units} × {tier.unit_price} (volume)"]


def _outcome_lines(charge: OutcomeCharge, count: Decimal, value: Decimal) -> list[Line]:
    description = charge.description or charge.outcome_type
    lines = []
    if charge.unit_price:
        lines.append(Line(description, count, charge.unit_price, count * charge.unit_price))
    if charge.share_of_value:
        lines.append(Line(
            f"{description} ({charge.share_of_value:%} of value)", value, None,
            value * charge.share_of_value, detail=f"{charge.share_of_value:%} of {value}",
        ))  # fmt: skip
    return lines
