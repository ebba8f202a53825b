"""Billing data in ClickHouse: load it from files, read it back as models."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from clickhouse_connect.driver.client import Client
from pydantic import ValidationError

from costline.clickhouse import read_query
from schemas.meters import Meter
from schemas.plans import BillingFile, Customer, PlanVersion, Subscription
from schemas.validation import problems


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
    """Read and check one billing file; a bad file is a :class:`BillingDataError` naming it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BillingDataError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        return BillingFile.model_validate_json(data)
    except ValidationError as exc:
        raise BillingDataError(f"{path}: not a billing file ({problems(exc, 'file')})") from None


def _body(model: Meter | PlanVersion) -> str:
    return json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def load(client: Client, billing: BillingFile) -> Loaded:
    """Store a billing file. Loading the same file twice changes nothing.

    Plan versions are immutable: a version already stored with other charges
    is refused (publish a new version instead). Meters may be redefined.
    """
    return load_all(client, [billing])[0]


def load_all(client: Client, files: Sequence[BillingFile]) -> list[Loaded]:
    """Store several billing files as one: every file is checked before anything is written.

    Files may refer to what an earlier file in the list defines, and a later
    file's meter, customer, subscription or grant replaces an earlier one's
    with the same key, as if they were loaded in order. One refused file
    means no file is written.
    """
    check(client, files)
    _write(client, files)
    return [
        Loaded(len(b.meters), len(b.plans), len(b.customers), len(b.subscriptions), len(b.credits))
        for b in files
    ]


def check(client: Client, files: Sequence[BillingFile]) -> None:
    """Raise :class:`BillingDataError` if any file contradicts what is stored or an earlier file."""
    stored = {(p.plan, p.version): _body(p) for p in plan_versions(client)}
    known_meters = {m.name for m in meters(client)}
    for billing in files:
        for plan in billing.plans:
            old = stored.get((plan.plan, plan.version))
            if old is not None and old != _body(plan):
                raise BillingDataError(
                    f"plan {plan.plan} version {plan.version} is already loaded with other charges; "
                    "plan versions are immutable, give the change a new version"
                )
        known_meters |= {m.name for m in billing.meters}
        for plan in billing.plans:
            missing = plan.meters() - known_meters
            if missing:
                raise BillingDataError(
                    f"plan {plan.plan} {plan.version} uses undefined meters: {sorted(missing)}"
                )
        stored |= {(p.plan, p.version): _body(p) for p in billing.plans}
        for sub in billing.subscriptions:
            if (sub.plan, sub.version) not in stored:
                raise BillingDataError(
                    f"subscription of {sub.customer_id} from {sub.starts_on}: "
                    f"no plan {sub.plan} version {sub.version}"
                )


K = TypeVar("K")
T = TypeVar("T")


def _last_by(items: Iterable[T], key: Callable[[T], K]) -> list[T]:
    """One item per key, the last one given: what loading the files in order would leave."""
    return list({key(item): item for item in items}.values())


def _write(client: Client, files: Sequence[BillingFile]) -> None:
    # One insert per table for all files, so a failure part-way leaves as
    # little as possible behind (ClickHouse has no multi-table transaction);
    # loading the same files again completes it.
    now = datetime.now(UTC)
    found_meters = _last_by((m for b in files for m in b.meters), lambda m: m.name)
    plans = _last_by((p for b in files for p in b.plans), lambda p: (p.plan, p.version))
    found_customers = _last_by((c for b in files for c in b.customers), lambda c: c.customer_id)
    subs = _last_by((s for b in files for s in b.subscriptions), lambda s: (s.customer_id, s.starts_on))
    grants = _last_by((g for b in files for g in b.credits), lambda g: (g.customer_id, g.grant_id))
    if found_meters:
        client.insert(
            "meters", [(m.name, _body(m), now) for m in found_meters], ["name", "body", "loaded_at"]
        )
    if plans:
        client.insert(
            "plans",
            [(p.plan, p.version, _body(p), now) for p in plans],
            ["plan", "version", "body", "loaded_at"],
        )
    if found_customers:
        client.insert(
            "customers",
            [(c.customer_id, c.name, c.stripe_customer_id, now) for c in found_customers],
            ["customer_id", "name", "stripe_customer_id", "loaded_at"],
        )
    if subs:
        client.insert(
            "subscriptions",
            [(s.customer_id, s.starts_on, s.plan, s.version, s.seats, now) for s in subs],
            ["customer_id", "starts_on", "plan", "version", "seats", "loaded_at"],
        )
    if grants:
        client.insert(
            "credit_grants",
            [(g.customer_id, g.grant_id, g.amount, g.granted_on, now) for g in grants],
            ["customer_id", "grant_id", "amount", "granted_on", "loaded_at"],
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
