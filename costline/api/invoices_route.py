"""Invoices over HTTP: one customer's for a month, and every subscribed customer's for a month.

A month's invoice is the stored one once finalized, else a draft computed
now from the ledger (:func:`billing.invoices.invoice_for`, as ``costline
invoice`` reads it), in the JSON of ``costline invoice --format json``.
Finalizing stays a CLI act: a read key changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from clickhouse_connect.driver.client import Client
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from billing import inputs
from billing.invoices import BillingContext, Invoice, invoice_for, stored, subscribed
from billing.render import invoice_document
from costline.api.auth import require_customer
from costline.api.keys import ApiKey, Scope
from costline.api.pages import DEFAULT_LIMIT, Cursor, Limit, Page, decode_cursor, page
from costline.api.reading import READ_ERRORS, parsed
from costline.api.service import ApiError, authenticated, service_of

router = APIRouter(tags=["read"])

Status = Literal["draft", "final"]


class InvoiceLine(BaseModel):
    description: str
    kind: str
    meter: str
    quantity: str
    included: str
    billable: str
    unit_price: str | None
    detail: str
    amount: str = Field(description="rounded once, to the cent")
    adjusts_period: str | None = Field(description="the earlier month a late-usage adjustment is for")


class InvoiceDocument(BaseModel):
    """An invoice as ``costline invoice --format json`` prints it; money as exact strings."""

    invoice_id: str
    customer_id: str
    period: str
    status: Status
    finalized_at: str | None
    currency: str
    lines: list[InvoiceLine]
    subtotal: str
    credits_applied: str
    total: str
    rounding: str


PeriodPath = Annotated[str, Path(description="a UTC month, e.g. 2026-11")]


def _document(invoice: Invoice) -> InvoiceDocument:
    return InvoiceDocument.model_validate(invoice_document(invoice))


@router.get(
    "/v1/customers/{customer}/invoices/{period}",
    summary="A customer's invoice for a month: the final one if finalized, else a draft as of now",
    response_model=InvoiceDocument,
    responses={**READ_ERRORS, 404: {"description": "the customer has no subscription in that month"}},
)
async def get_invoice(
    request: Request,
    key: Annotated[ApiKey, Depends(authenticated(Scope.READ))],
    customer: str,
    period: PeriodPath,
) -> InvoiceDocument:
    require_customer(key, customer)
    month = parsed("period", inputs.period, period)

    def read(client: Client) -> Invoice | None:
        ctx = BillingContext.load(client)
        final = stored(ctx.client, customer, month)
        if final is not None:
            return final
        if customer not in subscribed(ctx.client, month):
            return None
        return invoice_for(ctx, customer, month)

    invoice = await service_of(request).read(read)
    if invoice is None:
        raise ApiError(404, f"customer {customer!r} has no subscription in {month}")
    return _document(invoice)


@router.get(
    "/v1/invoices",
    summary="The invoices of a month, one per subscribed customer, by customer id",
    response_model=Page[InvoiceDocument],
    responses=READ_ERRORS,
)
async def list_invoices(
    request: Request,
    key: Annotated[ApiKey, Depends(authenticated(Scope.READ))],
    period: Annotated[str, Query(description="a UTC month, e.g. 2026-11")],
    customer: Annotated[
        str | None, Query(description="only this customer (a bound key must give it)")
    ] = None,
    status: Annotated[Status | None, Query(description="only drafts, or only finalized invoices")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[InvoiceDocument]:
    require_customer(key, customer)
    month = parsed("period", inputs.period, period)
    last = decode_cursor(cursor, (str,))
    after = str(last[0]) if last else None

    def read(client: Client) -> list[Invoice]:
        ctx = BillingContext.load(client)
        found: list[Invoice] = []
        for name in subscribed(ctx.client, month):
            if (customer is not None and name != customer) or (after is not None and name <= after):
                continue
            final = stored(ctx.client, name, month)
            if status == "final" and final is None:
                continue
            if status == "draft" and final is not None:
                continue
            found.append(final or invoice_for(ctx, name, month))
            if len(found) > limit:  # one more than a page says another follows
                break
        return found

    invoices = await service_of(request).read(read)
    shown, next_cursor = page(invoices, limit, lambda invoice: (invoice.customer_id,))
    return Page[InvoiceDocument](data=[_document(i) for i in shown], next_cursor=next_cursor)
