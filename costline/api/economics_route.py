"""``GET /v1/economics``: revenue against cost for a month, as ``costline economics --format json``.

Economics span every customer (totals, conversations, break-even), and a
margin is the operator's business, not the customer's: only keys bound to
no customer read them.
"""

from __future__ import annotations

from typing import Annotated

from clickhouse_connect.driver.client import Client
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from billing import economics_store, inputs
from billing.economics import By, EconomicsReport, economics
from billing.render import economics_document
from costline.api.auth import require_unbound
from costline.api.keys import ApiKey, Scope
from costline.api.reading import READ_ERRORS, parsed
from costline.api.service import authenticated, service_of

router = APIRouter(tags=["read"])


class Figures(BaseModel):
    """Money as exact strings; a figure that cannot be had (no successful task) is null."""

    revenue: str | None
    cost: str | None
    margin: str | None
    margin_pct: str | None
    tasks: int
    successful_tasks: int
    task_cost: str | None
    cost_per_successful_task: str | None
    break_even_tasks: int | None
    break_even: str | None = Field(description='successful tasks, "never", "n/a", or null without human_cost')


class EconomicsRow(Figures):
    customer_id: str
    agent_id: str | None = Field(None, description="by agent only; null for revenue no agent's cost carries")


class Conversations(BaseModel):
    conversations: int
    hours_with_conversations: int
    direct_cost: str | None
    infra_cost: str | None
    cost_per_conversation: str | None


class BreakEven(BaseModel):
    human_cost: str | None
    hours_in_period: int
    fixed_cost: str | None
    cost_per_successful_task: str | None
    successful_tasks: int | None
    label: str | None


class EconomicsDocument(BaseModel):
    period: str
    by: By
    currency: str
    infra_cost_per_hour: str | None
    human_cost: str | None
    rows: list[EconomicsRow]
    total: Figures
    conversations: Conversations
    break_even: BreakEven


@router.get(
    "/v1/economics",
    summary="Unit economics of a month, by customer or by agent",
    response_model=EconomicsDocument,
    response_model_exclude_unset=True,
    responses=READ_ERRORS,
)
async def get_economics(
    request: Request,
    key: Annotated[ApiKey, Depends(authenticated(Scope.READ))],
    period: Annotated[str, Query(description="a UTC month, e.g. 2026-11")],
    by: Annotated[By, Query(description="customer or agent")] = "customer",
    infra_cost_per_hour: Annotated[str, Query(description="fixed infrastructure cost per hour")] = "0",
    human_cost: Annotated[str | None, Query(description="a human's cost per successful task")] = None,
) -> EconomicsDocument:
    require_unbound(key, "economics")
    month = parsed("period", inputs.period, period)
    infra = parsed("infra_cost_per_hour", inputs.amount, infra_cost_per_hour)
    human = parsed("human_cost", inputs.amount, human_cost) if human_cost is not None else None

    def read(client: Client) -> EconomicsReport:
        return economics(economics_store.read(client, month), by, infra, human)

    report = await service_of(request).read(read)
    return EconomicsDocument.model_validate(economics_document(report))
