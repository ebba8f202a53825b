"""Invoices: a customer's month, rated under its subscriptions, finalized once.

A draft is computed from the ledger whenever it is asked for. Finalizing
stores it (``invoices``, ``invoice_lines``) and from then on that month's
invoice is what was stored, whatever arrives later. Usage that arrives late
for a finalized month is found by rating that month again: every charge whose
amount now differs from what was billed for it (on the month's invoice and
on adjustments since) becomes an adjustment line on the next invoice. So a
late event is billed exactly once, on the first invoice finalized after it
arrived.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from string import Template
from typing import Any

from clickhouse_connect.driver.client import Client

from billing import store
from billing.exceptions import BillingError
from billing.meters import USAGE_COST, meter_totals
from billing.periods import Period, midnight, segments
from billing.rating import Line, PeriodUsage, credits_to_apply, rate, total
from costline.clickhouse import read_query
from schemas.meters import Meter, MeterFilter
from schemas.money import ROUNDING_MODE, ROUNDING_RULE, SCALE, ZERO
from schemas.plans import OutcomeCharge, PlanVersion, Subscription


@dataclass(frozen=True)
class Invoice:
    customer_id: str
    period: Period
    currency: str
    lines: list[Line]
    credits_applied: Decimal
    credit_balance: Decimal  # before this invoice
    finalized_at: datetime | None = None

    @property
    def invoice_id(self) -> str:
        return f"INV-{self.customer_id}-{self.period.label}"

    @property
    def status(self) -> str:
        return "final" if self.finalized_at else "draft"

    @property
    def subtotal(self) -> Decimal:
        return total(self.lines)

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.credits_applied

    @property
    def rounding(self) -> str:
        return ROUNDING_RULE


@dataclass
class BillingContext:
    """Billing data read once per command."""

    client: Client
    meters: dict[str, Meter]
    plans: dict[tuple[str, str], PlanVersion]

    @classmethod
    def load(cls, client: Client) -> BillingContext:
        return cls(
            client,
            {m.name: m for m in store.meters(client)},
            {(p.plan, p.version): p for p in store.plan_versions(client)},
        )


def rate_period(
    ctx: BillingContext, customer: str, period: Period, subscriptions: list[Subscription] | None = None
) -> list[Line]:
    """The period's charges from the ledger as it is now, without adjustments or credits.

    ``subscriptions``: the customer's, when the caller has read them.
    """
    if subscriptions is None:
        subscriptions = store.subscriptions(ctx.client, customer)
    parts = segments(subscriptions, period)
    if not parts:
        raise BillingError(f"customer {customer!r} has no subscription in {period}")
    lines: list[Line] = []
    for part in parts:
        sub = part.subscription
        plan = ctx.plans.get((sub.plan, sub.version))
        if plan is None:
            raise BillingError(
                f"{customer!r} is subscribed to plan {sub.plan} {sub.version}, which is not loaded"
            )
        usage = _usage(ctx, customer, plan, sub, midnight(part.first), midnight(part.end))
        whole = part.days == period.days
        suffix = "" if whole else f"@{part.first.isoformat()}"
        fraction = Decimal(part.days) / Decimal(period.days)
        segment_lines = rate(plan, usage, fraction, suffix, f"{part.days} of {period.days} days")
        if not whole:
            span = f" [{part.first:%b} {part.first.day}–{(part.end - timedelta(days=1)).day}, {plan.plan}]"
            segment_lines = [replace(line, description=line.description + span) for line in segment_lines]
        lines.extend(segment_lines)
    return lines


def _usage(
    ctx: BillingContext, customer: str, plan: PlanVersion, sub: Subscription, start: datetime, end: datetime
) -> PeriodUsage:
    # Every value the segment needs, by (what, name), read together: one
    # round trip when meter_days can give them all.
    wanted: dict[tuple[str, str], Meter] = {}
    for name in sorted(plan.meters()):
        meter = ctx.meters.get(name)
        if meter is None:
            raise BillingError(f"plan {plan.plan} {plan.version} uses meter {name!r}, which is not loaded")
        wanted[("meter", name)] = meter
    for charge in plan.charges:
        if isinstance(charge, OutcomeCharge):
            only = MeterFilter(kinds=["outcome"], outcome_types=[charge.outcome_type], success=True)
            count = Meter(name="outcome_count", filter=only, aggregation="sum", field="quantity")
            worth = Meter(name="outcome_value", filter=only, aggregation="sum", field="outcome_value")
            wanted[("outcome_count", charge.outcome_type)] = count
            wanted[("outcome_value", charge.outcome_type)] = worth
    if any(c.kind == "pass_through" for c in plan.charges):
        wanted[("usage_cost", "")] = USAGE_COST
    read = meter_totals(ctx.client, list(wanted.values()), start, end, customer)
    values = dict(zip(wanted, read, strict=True))
    outcomes = {
        c.outcome_type: (values[("outcome_count", c.outcome_type)], values[("outcome_value", c.outcome_type)])
        for c in plan.charges
        if isinstance(c, OutcomeCharge)
    }
    return PeriodUsage(
        meters={name: values[("meter", name)] for name in sorted(plan.meters())},
        seats=sub.seats,
        outcomes=outcomes,
        usage_cost=values.get(("usage_cost", ""), ZERO),
    )


# What finalized invoices billed for a charge of a month: (period, charge key, description, quantity, amount).
Billed = tuple[str, str, str, Decimal, Decimal]


def adjustments(ctx: BillingContext, customer: str, billed: list[Billed]) -> list[Line]:
    """Corrections for earlier finalized months whose charges changed, given what was ``billed`` for them."""
    billed_amount: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    billed_quantity: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    descriptions: dict[tuple[str, str], str] = {}
    for for_period, key, description, quantity, amount in billed:
        billed_amount[(for_period, key)] += amount
        billed_quantity[(for_period, key)] += quantity
        descriptions.setdefault((for_period, key), description)
    lines = []
    for earlier in sorted({p for p, _ in billed_amount}):
        now = {line.key: line for line in rate_period(ctx, customer, Period.parse(earlier))}
        for key in sorted(set(now) | {k for p, k in billed_amount if p == earlier}):
            line = now.get(key)
            amount = line.amount if line else ZERO
            delta = amount - billed_amount[(earlier, key)]
            if delta == 0:
                continue
            quantity = (line.quantity if line else ZERO) - billed_quantity[(earlier, key)]
            description = line.description if line else descriptions[(earlier, key)]
            lines.append(
                Line(
                    key=key,
                    kind="adjustment",
                    description=f"Adjustment for {earlier}: {description}",
                    quantity=quantity,
                    unit_price=None,
                    exact=delta,
                    meter=line.meter if line else "",
                    detail=f"billed {billed_amount[(earlier, key)]:.2f}, now {amount:.2f}",
                    adjusts_period=earlier,
                )
            )
    return lines


def draft(ctx: BillingContext, customer: str, period: Period) -> Invoice:
    subscriptions, billed, balance = _draft_inputs(ctx.client, customer, period)
    lines = rate_period(ctx, customer, period, subscriptions) + adjustments(ctx, customer, billed)
    currency = "USD"  # every plan version is in USD (schemas.plans.PlanVersion.currency)
    return Invoice(customer, period, currency, lines, credits_to_apply(lines, balance), balance)


_DRAFT_INPUTS = Template(read_query("draft_inputs")).substitute(
    subscriptions=read_query("billing_subscriptions"), billed=read_query("billed_charges")
)


def _draft_inputs(
    client: Client, customer: str, period: Period
) -> tuple[list[Subscription], list[Billed], Decimal]:
    """The customer's subscriptions, what was billed before ``period``, and the credit balance: one query."""
    parameters = {
        "customer": customer,
        "before": period.label,
        "period": period.label,
        "period_end": period.end_day,
    }
    subs, billed, balance = client.query(_DRAFT_INPUTS, parameters=parameters).result_rows[0]
    subscriptions = [
        Subscription(customer_id=c, starts_on=day, plan=p, version=v, seats=Decimal(q))
        for c, day, p, v, q in subs
    ]
    return subscriptions, [(p, k, d, Decimal(q), Decimal(a)) for p, k, d, q, a in billed], Decimal(balance)


def subscribed(client: Client, period: Period) -> list[str]:
    """Customers with a subscription covering some of ``period``."""
    by_customer: dict[str, list[Subscription]] = defaultdict(list)
    for sub in store.subscriptions(client):
        by_customer[sub.customer_id].append(sub)
    return sorted(c for c, subs in by_customer.items() if segments(subs, period))


def stored(client: Client, customer: str, period: Period) -> Invoice | None:
    """The finalized invoice of ``customer`` for ``period``, if there is one."""
    head = client.query(
        read_query("stored_invoice"),
        parameters={"customer": customer, "period": period.label},
    ).result_rows
    if not head:
        return None
    currency, credits, finalized_at = head[0]
    rows = client.query(
        read_query("stored_invoice_lines"),
        parameters={"customer": customer, "period": period.label},
    ).result_rows
    lines = [
        Line(k, kind, d, Decimal(q), None if u is None else Decimal(u), Decimal(e), m, Decimal(i), det, adj)
        for k, kind, d, q, u, e, m, i, det, adj in rows
    ]
    return Invoice(
        customer, period, currency, lines, Decimal(credits), Decimal(0), finalized_at.replace(tzinfo=UTC)
    )


def finalized_lines(client: Client, period: Period) -> list[tuple[Any, ...]]:
    """The lines of the period's finalized invoices, by customer and line number.

    Columns in the order of :data:`billing.exports.INVOICE_LINES`.
    """
    result = client.query(read_query("export_invoice_lines"), parameters={"period": period.label})
    return [tuple(row) for row in result.result_rows]


def invoice_for(ctx: BillingContext, customer: str, period: Period) -> Invoice:
    """The stored invoice when the period is final, else a draft from the ledger as it is."""
    return stored(ctx.client, customer, period) or draft(ctx, customer, period)


def finalize(ctx: BillingContext, customer: str, period: Period) -> Invoice:
    """Store the draft as the period's invoice; a period is finalized once."""
    if stored(ctx.client, customer, period) is not None:
        raise BillingError(f"the {period} invoice of {customer!r} is already final; it cannot change")
    invoice = draft(ctx, customer, period)
    final = replace(invoice, finalized_at=datetime.now(UTC))
    _insert(ctx.client, final)
    return final


LINE_COLUMNS = [
    "invoice_id", "customer_id", "period", "line_no", "charge_key", "kind", "description", "meter",
    "quantity", "included", "billable", "unit_price", "detail", "exact", "amount", "adjusts_period",
]  # fmt: skip


def _stored_decimal(value: Decimal) -> Decimal:
    return value.quantize(SCALE, rounding=ROUNDING_MODE)


def _insert(client: Client, invoice: Invoice) -> None:
    # Lines first: an invoice row without its lines would read as a final, empty invoice.
    rows: list[list[Any]] = [
        [
            invoice.invoice_id, invoice.customer_id, invoice.period.label, number, line.key, line.kind,
            line.description, line.meter, _stored_decimal(line.quantity), _stored_decimal(line.included),
            _stored_decimal(line.billable),
            None if line.unit_price is None else _stored_decimal(line.unit_price),
            line.detail, _stored_decimal(line.exact), line.amount, line.adjusts_period,
        ]
        for number, line in enumerate(invoice.lines, start=1)
    ]  # fmt: skip
    if rows:
        client.insert(
            "invoice_lines",
            rows,
            LINE_COLUMNS,
        )  # fmt: skip
    client.insert(
        "invoices",
        [[
            invoice.invoice_id, invoice.customer_id, invoice.period.label, invoice.currency, invoice.subtotal,
            invoice.credits_applied, invoice.total, invoice.rounding, invoice.finalized_at,
        ]],
        [
            "invoice_id", "customer_id", "period", "currency", "subtotal", "credits_applied", "total",
            "rounding", "finalized_at",
        ],
    )  # fmt: skip
