"""Rating: a plan version and what a customer did under it, to priced lines. Pure.

Lines carry exact ``Decimal`` amounts; each line is rounded once, half-even,
to the cent (:data:`schemas.money.ROUNDING_RULE`), and totals are sums of rounded lines, so the
lines always add up to the total a customer sees.

A subscription that covers part of a month is rated with ``fraction`` (its
days over the month's): fixed amounts (platform fee, minimum, seats) and
included allowances are prorated by it; usage is whatever happened in those
days; tier bounds are not prorated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal

from schemas.money import CENT, ZERO
from schemas.plans import (
    OutcomeCharge,
    PassThrough,
    PerTaskCharge,
    PlanVersion,
    PlatformFee,
    SeatCharge,
    Tier,
    UsageCharge,
)

ONE = Decimal(1)
#: Line kinds prepaid credits pay for: what the customer used, never fixed fees.
CREDITABLE = frozenset({"usage", "outcome", "pass_through", "per_task", "adjustment"})


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class PeriodUsage:
    """What happened under one plan version, as the rating needs it."""

    meters: Mapping[str, Decimal] = field(default_factory=dict)  # meter -> quantity
    seats: Decimal = ZERO  # from the subscription
    outcomes: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # type -> (count, value)
    usage_cost: Decimal = ZERO  # priced cost from the ledger


@dataclass(frozen=True)
class Line:
    key: str  # what the line bills, stable across recomputations of a period
    kind: str
    description: str
    quantity: Decimal
    unit_price: Decimal | None
    exact: Decimal
    meter: str = ""
    included: Decimal = ZERO
    detail: str = ""
    adjusts_period: str = ""

    @property
    def billable(self) -> Decimal:
        return max(self.quantity - self.included, ZERO)

    @property
    def amount(self) -> Decimal:
        return to_cents(self.exact)


def total(lines: list[Line]) -> Decimal:
    return sum((line.amount for line in lines), ZERO)


def rate(
    plan: PlanVersion, usage: PeriodUsage, fraction: Decimal = ONE, segment: str = "", span: str = ""
) -> list[Line]:
    """``plan``'s lines for ``usage``.

    ``segment`` tells prorated parts of a month apart in line keys; ``span``
    says in words what ``fraction`` of the month they cover ("15 of 30 days").
    """
    lines: list[Line] = []
    minimum: tuple[str, PlatformFee] | None = None
    prorated = f"prorated {span or f'{fraction:.6f} of the month'}" if fraction != ONE else ""
    for index, charge in enumerate(plan.charges):
        key = f"{plan.plan}/{plan.version}/{index}{segment}"
        match charge:
            case UsageCharge():
                quantity = usage.meters.get(charge.meter, ZERO)
                lines.append(_usage_line(key, charge, quantity, charge.included * fraction))
            case PerTaskCharge():
                tasks = usage.meters.get(charge.meter, ZERO)
                lines.append(
                    Line(key, "per_task", charge.description, tasks, charge.unit_price,
                         tasks * charge.unit_price, meter=charge.meter)
                )  # fmt: skip
            case SeatCharge():
                seats = usage.meters.get(charge.meter, ZERO) if charge.meter else usage.seats
                lines.append(
                    Line(key, "seats", charge.description, seats, charge.unit_price,
                         seats * charge.unit_price * fraction, meter=charge.meter or "", detail=prorated)
                )  # fmt: skip
            case PlatformFee(minimum=True):
                minimum = (key, charge)
            case PlatformFee():
                lines.append(
                    Line(key, "fee", charge.description, fraction, charge.amount, charge.amount * fraction,
                         detail=prorated)
                )  # fmt: skip
            case OutcomeCharge():
                count, value = usage.outcomes.get(charge.outcome_type, (ZERO, ZERO))
                lines.extend(_outcome_lines(key, charge, count, value))
            case PassThrough():
                exact = usage.usage_cost * (1 + charge.margin)
                detail = (
                    f"cost {usage.usage_cost.normalize():f} + {(charge.margin * 100).normalize():f}% margin"
                )
                lines.append(
                    Line(key, "pass_through", charge.description, usage.usage_cost, None, exact,
                         meter="usage_cost", detail=detail)
                )  # fmt: skip
    if minimum is not None:
        key, fee = minimum
        shortfall = fee.amount * fraction - total(lines)
        if shortfall > 0:
            description = f"{fee.description} (minimum commitment {to_cents(fee.amount * fraction)})"
            lines.append(Line(key, "minimum", description, ONE, shortfall, shortfall))
    return lines


def _usage_line(key: str, charge: UsageCharge, quantity: Decimal, included: Decimal) -> Line:
    billable = max(quantity - included, ZERO)
    line = Line(
        key, "usage", charge.description or charge.meter, quantity, None, ZERO, charge.meter, included
    )
    if charge.pricing == "flat":
        return replace(line, unit_price=charge.unit_price, exact=billable * charge.unit_price)
    if charge.pricing == "graduated":
        exact, parts = _graduated(charge.tiers, billable)
    else:
        exact, parts = _volume(charge.tiers, billable)
    return replace(line, exact=exact, detail="; ".join(parts))


def _graduated(tiers: list[Tier], units: Decimal) -> tuple[Decimal, list[str]]:
    exact, lower, parts = ZERO, ZERO, []
    for tier in tiers:
        upper = units if tier.up_to is None else min(units, tier.up_to)
        in_tier = max(upper - lower, ZERO)
        if in_tier > 0:
            exact += in_tier * tier.unit_price + tier.flat_fee
            parts.append(
                f"{in_tier:f} × {tier.unit_price:f}" + (f" + {tier.flat_fee:f}" if tier.flat_fee else "")
            )
        if tier.up_to is None or units <= tier.up_to:
            break
        lower = tier.up_to
    return exact, parts


def _volume(tiers: list[Tier], units: Decimal) -> tuple[Decimal, list[str]]:
    tier = next(t for t in tiers if t.up_to is None or units <= t.up_to)
    fee = f" + {tier.flat_fee:f}" if tier.flat_fee else ""
    return units * tier.unit_price + tier.flat_fee, [f"all {units:f} × {tier.unit_price:f}{fee} (volume)"]


def _outcome_lines(key: str, charge: OutcomeCharge, count: Decimal, value: Decimal) -> list[Line]:
    description = charge.description or charge.outcome_type
    lines = []
    if charge.unit_price:
        lines.append(Line(key, "outcome", description, count, charge.unit_price, count * charge.unit_price))
    if charge.share_of_value:
        share = f"{(charge.share_of_value * 100).normalize():f}%"
        lines.append(Line(
            f"{key}/value", "outcome", f"{description} ({share} of value)", value, None,
            value * charge.share_of_value, detail=f"{share} of {value.normalize():f}",
        ))  # fmt: skip
    return lines


def credits_to_apply(lines: list[Line], balance: Decimal) -> Decimal:
    """How much of a prepaid ``balance`` pays for these lines: only creditable lines, never below zero."""
    creditable = sum((line.amount for line in lines if line.kind in CREDITABLE), ZERO)
    return max(min(to_cents(balance), creditable), ZERO)
