"""Billing plans: what a customer owes for a period, as data.

A plan version combines any of: a seat licence, a platform fee (or minimum
commitment), metered usage with an included allowance and overage priced
flat or in graduated or volume tiers, outcome prices (per unit or a share
of the outcome's value), cost pass-through with a margin, and prepaid
credits. Amounts are ``Decimal`` in the plan's currency.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events import Identifier
from schemas.meters import Meter

Amount = Annotated[Decimal, Field(ge=0, le=Decimal(10**12), allow_inf_nan=False)]
Quantity = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Frozen):
    """Units up to ``up_to`` (inclusive; ``None`` for the last tier) at ``unit_price``."""

    up_to: Quantity | None
    unit_price: Amount
    flat_fee: Amount = Decimal(0)


class UsageCharge(_Frozen):
    """A meter's usage: ``included`` free units, then overage.

    ``flat``: every billable unit at ``unit_price``. ``graduated``: each
    unit at the price of the tier it falls in. ``volume``: all billable units
    at the price of the tier the total falls in.
    """

    kind: Literal["usage"] = "usage"
    meter: str
    description: str = ""
    included: Quantity = Decimal(0)
    pricing: Literal["flat", "graduated", "volume"] = "flat"
    unit_price: Amount = Decimal(0)
    tiers: list[Tier] = Field(default_factory=list)

    @model_validator(mode="after")
    def _tiers_fit_pricing(self) -> UsageCharge:
        if self.pricing != "flat":
            if not self.tiers or self.tiers[-1].up_to is not None:
                raise ValueError("tiered pricing needs tiers, the last with up_to null")
            bounds = [t.up_to for t in self.tiers[:-1]]
            if any(b is None for b in bounds) or bounds != sorted(bounds):  # type: ignore[type-var]
                raise ValueError("tier bounds must rise, and only the last may be open")
        return self


class SeatCharge(_Frozen):
    """Per seat per month: seats from the subscription, or from a (unique-count) meter."""

    kind: Literal["seats"] = "seats"
    description: str = "Seats"
    unit_price: Amount
    meter: str | None = None


class PlatformFee(_Frozen):
    """A fixed fee; with ``minimum`` it is a commitment topped up to, not added."""

    kind: Literal["platform_fee"] = "platform_fee"
    description: str = "Platform fee"
    amount: Amount
    minimum: bool = False


class OutcomeCharge(_Frozen):
    """Per successful outcome, or a share of the outcomes' value."""

    kind: Literal["outcome"] = "outcome"
    outcome_type: str
    description: str = ""
    unit_price: Amount = Decimal(0)
    share_of_value: Annotated[Decimal, Field(ge=0, le=1)] = Decimal(0)


class PassThrough(_Frozen):
    """Priced usage cost re-billed with a margin (0.20 = cost plus 20%)."""

    kind: Literal["pass_through"] = "pass_through"
    description: str = "Usage cost"
    margin: Annotated[Decimal, Field(ge=0, le=10)] = Decimal(0)


class PerTaskCharge(_Frozen):
    """A price per completed task: each distinct ``task_id`` with a successful outcome."""

    kind: Literal["per_task"] = "per_task"
    description: str = "Completed tasks"
    meter: str = "tasks_succeeded"
    unit_price: Amount


Charge = Annotated[
    UsageCharge | SeatCharge | PlatformFee | OutcomeCharge | PassThrough | PerTaskCharge,
    Field(discriminator="kind"),
]


class PlanVersion(_Frozen):
    """One immutable version of a plan; customers subscribe to a version from a date."""

    plan: str
    version: str
    description: str = ""
    currency: Literal["USD"] = "USD"
    charges: list[Charge]

    def meters(self) -> set[str]:
        """The meters this version's charges read."""
        names = {c.meter for c in self.charges if isinstance(c, UsageCharge | PerTaskCharge)}
        return names | {c.meter for c in self.charges if isinstance(c, SeatCharge) and c.meter}


class Customer(_Frozen):
    customer_id: Identifier
    name: str = ""
    stripe_customer_id: str = ""


class Subscription(_Frozen):
    """From ``starts_on`` (a UTC date) the customer is on this plan version, until its next subscription."""

    customer_id: Identifier
    plan: str
    version: str
    starts_on: date
    seats: Quantity = Decimal(0)


class CreditGrant(_Frozen):
    """Prepaid credit, drawn down by usage charges before anything is billed for them."""

    customer_id: Identifier
    grant_id: Identifier
    amount: Amount
    granted_on: date


class BillingFile(_Frozen):
    """What ``costline plans load`` reads: any of meters, plans, customers, subscriptions, credits."""

    meters: list[Meter] = Field(default_factory=list)
    plans: list[PlanVersion] = Field(default_factory=list)
    customers: list[Customer] = Field(default_factory=list)
    subscriptions: list[Subscription] = Field(default_factory=list)
    credits: list[CreditGrant] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_resolve(self) -> BillingFile:
        versions = {(p.plan, p.version) for p in self.plans}
        if len(versions) != len(self.plans):
            raise ValueError("a plan version appears twice")
        meters = {m.name for m in self.meters}
        for plan in self.plans:
            missing = plan.meters() - meters if self.meters else set()
            if missing:
                raise ValueError(f"plan {plan.plan} {plan.version} uses undefined meters: {sorted(missing)}")
        return self
