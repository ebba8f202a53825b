"""``GET /v1/costs``: what usage cost, by customer, agent, category and window, a page at a time.

The rows are :func:`billing.costs.costs`, the function behind ``costline
costs``, and each is the JSON row ``costline costs --format json`` prints.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from billing import inputs
from billing.costs import DEFAULT_WINDOW, GROUPINGS, WINDOW_SIZES, CostKey, CostQuery, CostRow, costs
from billing.render import cost_document
from costline.api.auth import require_customer
from costline.api.keys import ApiKey, Scope
from costline.api.pages import DEFAULT_LIMIT, Cursor, Limit, Page, decode_cursor, page
from costline.api.reading import READ_ERRORS, parsed
from costline.api.service import authenticated, service_of

router = APIRouter(tags=["read"])


class CostLine(BaseModel):
    """A group's cost; a grouping field is present only when grouped by. Money is an exact string."""

    customer: str | None = None
    agent: str | None = None
    category: str | None = None
    window: str | None = Field(None, description="the window's start, ISO 8601 UTC")
    cost: str = Field(description="USD, exact (12 decimal places)")
    events: int
    quantity: str
    unit: str = Field(description='the unit of quantity, "mixed" when the group holds several')


@router.get(
    "/v1/costs",
    summary="Costs by customer, agent, category and window",
    response_model=Page[CostLine],
    response_model_exclude_unset=True,
    responses=READ_ERRORS,
)
async def get_costs(
    request: Request,
    key: Annotated[ApiKey, Depends(authenticated(Scope.READ))],
    start: Annotated[
        str | None, Query(alias="from", description="inclusive, ISO 8601 (default: the beginning)")
    ] = None,
    end: Annotated[str | None, Query(alias="to", description="exclusive, ISO 8601 (default: no end)")] = None,
    customer: Annotated[
        str | None, Query(description="only this customer (a customer-bound key must give it)")
    ] = None,
    agent: Annotated[str | None, Query(description="only this agent")] = None,
    category: Annotated[str | None, Query(description="only this category: llm, tool, ...")] = None,
    group_by: Annotated[
        str, Query(description=f"comma-separated, any of {','.join(GROUPINGS)}")
    ] = "agent,category",
    window: Annotated[str, Query(description=f"window size: {', '.join(WINDOW_SIZES)}")] = DEFAULT_WINDOW,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[CostLine]:
    require_customer(key, customer)
    query = CostQuery(  # a question it cannot answer as asked is a BillingError: a 400
        parsed("from", inputs.instant, start) if start else inputs.EARLIEST,
        parsed("to", inputs.instant, end) if end else inputs.LATEST,
        tuple(part.strip() for part in group_by.split(",") if part.strip()),
        customer,
        agent,
        category,
        window,
    )
    after: CostKey | None = decode_cursor(cursor, (str, str, str, str))  # type: ignore[assignment]
    rows = await service_of(request).read(lambda client: costs(client, query, after, limit + 1))
    shown, next_cursor = page(rows, limit, lambda row: row.key)
    return Page[CostLine](data=[_line(query, row) for row in shown], next_cursor=next_cursor)


def _line(query: CostQuery, row: CostRow) -> CostLine:
    return CostLine.model_validate(cost_document(row, query.group_by))
