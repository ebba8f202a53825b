"""Billing data in ClickHouse: load it from files, read it back as models."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from clickhouse_connect.driver.client import Client

from schemas.meters import Meter
from schemas.plans import BillingFile, CreditGrant, Customer, PlanVersion, Subscription
from streams.clickhouse import read_query


class BillingDataError(ValueError):
    """A billing file contradicts what is stored, or refers to what does not exist."""


@dataclass(frozen=True)
class Loaded:
    meters: int
    plans: int
    customers: int
    subscriptions: int
    credits: int

    def __str__(self) -> str:
        return (
            f"{self.meters} meter(s), {self.plans} plan version(s), {self.customers} customer(s), "
            f"{self.subscriptions} subscription(s), {self.credits} credit grant(s)"
        )


def read_billing_file(path: Path) -> BillingFile:
    return BillingFile.model_validate_json(path.read_bytes())


def _body(model: Meter | PlanVersion) -> str:
    return json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def load(client: Client, billing: BillingFile) -> Loaded:
    """Store a billing file. Loading the same file twice changes nothing.

    Plan versions are immutable: a version already stored with other charges
    is refused (publish a new version instead). Meters may be redefined.
    """
    stored = {(p.plan, p.version): _body(p) for p in plan_versions(client)}
    for plan in billing.plans:
        old = stored.get((plan.plan, plan.version))
        if old is not None and old != _body(plan):
            raise BillingDataError(
                f"plan {plan.plan} version {plan.version} is already loaded with other charges; "
                "plan versions are immutable, give the change a new version"
            )
    known_meters = {m.name for m in meters(client)} | {m.name for m in billing.meters}
    for plan in billing.plans:
        missing = plan.meters() - known_meters
        if missing:
            raise BillingDataError(
                f"plan {plan.plan} {plan.version} uses undefined meters: {sorted(missing)}"
            )
    known_plans = set(stored) | {(p.plan, p.version) for p in billing.plans}
    for sub in billing.subscriptions:
        if (sub.plan, sub.version) not in known_plans:
            raise BillingDataError(
                f"subscription of {sub.customer_id} from {sub.starts_on}: "
                f"no plan {sub.plan} version {sub.version}"
            )

    now = datetime.now(UTC)
    if billing.meters:
        client.insert(
            "meters", [(m.name, _body(m), now) for m in billing.meters], ["name", "body", "loaded_at"]
        )
    if billing.plans:
        client.insert(
            "plans",
            [(p.plan, p.version, _body(p), now) for p in billing.plans],
            ["plan", "version", "body", "loaded_at"],
        )
    if billing.customers:
        client.insert(
            "customers",
            [(c.customer_id, c.name, c.stripe_customer_id, now) for c in billing.customers],
            ["customer_id", "name", "stripe_customer_id", "loaded_at"],
        )
    if billing.subscriptions:
        client.insert(
            "subscriptions",
            [(s.customer_id, s.starts_on, s.plan, s.version, s.seats, now) for s in billing.subscriptions],
            ["customer_id", "starts_on", "plan", "version", "seats", "loaded_at"],
        )
    if billing.credits:
        client.insert(
            "credit_grants",
            [(g.customer_id, g.grant_id, g.amount, g.granted_on, now) for g in billing.credits],
            ["customer_id", "grant_id", "amount", "granted_on", "loaded_at"],
        )
    return Loaded(
        len(billing.meters),
        len(billing.plans),
        len(billing.customers),
        len(billing.subscriptions),
        len(billing.credits),
    )


def meters(client: Client) -> list[Meter]:
    rows = client.query(read_query("billing_meters")).result_rows
    return [Meter.model_validate_json(body) for (body,) in rows]


def plan_versions(client: Client) -> list[PlanVersion]:
    rows = client.query(read_query("billing_plans")).result_rows
    return [PlanVersion.model_validate_json(body) for (body,) in rows]


def customers(client: Client) -> list[Customer]:
    rows = client.query(read_query("billing_customers")).result_rows
    return [Customer(customer_id=c, name=n, stripe_customer_id=s) for c, n, s in rows]


def subscriptions(client: Client, customer: str | None = None) -> list[Subscription]:
    """Subscriptions in start order (all customers', or one customer's)."""
    rows = client.query(
        read_query("billing_subscriptions"),
        parameters={"customer": customer or ""},
    ).result_rows
    return [
        Subscription(customer_id=c, starts_on=s, plan=p, version=v, seats=Decimal(q))
        for c, s, p, v, q in rows
    ]


def credit_grants(client: Client, customer: str, before: date) -> list[CreditGrant]:
    """The customer's grants made before ``before``."""
    rows = client.query(
        read_query("credit_grants"),
        parameters={"customer": customer, "before": before},
    ).result_rows
    return [
        CreditGrant(customer_id=customer, grant_id=g, amount=Decimal(a), granted_on=d) for g, a, d in rows
    ]
