"""The dashboard: its page and static files at ``/dashboard``, its JSON at ``/v1/dashboard/...``.

The page is static and holds no secret; every figure comes from ``/v1/dashboard/...`` with the
caller's own key (``read`` scope). A key bound to one customer sees that customer only: naming
another is a 403, naming none means its own (:mod:`costline.api.dashboard_scope`). Here: the
page, its vendored chart library, the Overview, the Customer view and dead letters; the Agents
and Alerts views are in :mod:`costline.api.dashboard_views`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse

from billing.exceptions import BillingError
from billing.invoices import BillingContext, invoice_for
from billing.periods import Period
from billing.render import invoice_document
from costline.api import dashboard_customer, dashboard_store, dashboard_views
from costline.api.dashboard_figures import DAY_S, Filters, QueryError, SeriesQuery, Spend, end_of_day
from costline.api.dashboard_scope import customer_for, money, utc
from costline.api.dashboard_store import Point, Top
from costline.api.keys import ApiKey, Scope
from costline.api.service import ApiError, authenticated, service_of

STATIC = Path(__file__).parent / "static"
PAGE_FILES = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
# Fetched at build time by costline.dev.vendor (git-ignored): served from this origin, never a CDN.
VENDOR_FILES = {
    "echarts.min.js": "text/javascript",
    "echarts.NOTICE": "text/plain",
    "echarts.LICENSE": "text/plain",
}
VENDOR_MISSING = "run `python -m costline.dev.vendor` where Costline is installed (`make setup` does)"
TOP_LIMIT = 10
SAMPLES_PER_CODE = 3
Parts = Literal["all", "figures", "tops"]
PARTS_HELP = (
    "all; or figures (spend and series) and tops (top customers and agents) apart: "
    "the page asks for the figures first, so they print before the slower rankings"
)
SAMPLE_PAYLOAD_CHARS = 300  # enough to recognise a message; `costline dlq` shows it whole

router = APIRouter()
router.include_router(dashboard_views.router)


@router.get("/dashboard", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "dashboard.html", media_type="text/html", headers=_NO_STORE)


@router.get("/dashboard/{name}", include_in_schema=False)
async def page_file(name: str) -> FileResponse:
    if name not in PAGE_FILES:
        raise ApiError(404, f"no dashboard file {name!r}")
    return FileResponse(STATIC / name, media_type=PAGE_FILES[name], headers=_NO_STORE)


_NO_STORE = {"Cache-Control": "no-store"}  # the page and its script change together on upgrade


@router.get("/dashboard/vendor/{name}", include_in_schema=False)
async def vendor_file(name: str) -> FileResponse:
    if name not in VENDOR_FILES:
        raise ApiError(404, f"no vendored file {name!r}")
    path = STATIC / "vendor" / name
    if not path.is_file():
        raise ApiError(404, f"the dashboard's chart library is not installed: {VENDOR_MISSING}")
    # Pinned by version and hash: it changes only with an upgrade, which the page's no-store covers.
    return FileResponse(path, media_type=VENDOR_FILES[name], headers={"Cache-Control": "max-age=3600"})


@router.get(
    "/v1/dashboard/overview",
    summary="The dashboard's Overview: spend, a cost series and the top customers and agents",
    tags=["dashboard"],
    responses={
        400: {"description": "an invalid range, window or group"},
        403: {"description": "another customer"},
    },
)
async def overview(
    request: Request,
    key: Annotated[ApiKey, Depends(authenticated(Scope.READ))],
    start: Annotated[datetime, Query(alias="from", description="start of the range, inclusive")],
    end: Annotated[datetime, Query(alias="to", description="end of the range, exclusive")],
    window: Annotated[int, Query(description="window size in seconds: 60 or 3600")] = 3600,
    group: Annotated[str, Query(description="stack by category, agent, customer or model")] = "category",
    customer: str = "",
    agent: str = "",
    category: str = "",
    model: Annotated[str, Query(description="only this model (SKU); answered per day, without agents")] = "",
    at: Annotated[date | None, Query(description="spend as of the end of this day (default: now)")] = None,
    parts: Annotated[Parts, Query(description=PARTS_HELP)] = "all",
) -> dict[str, Any]:
    filters = Filters(customer=customer_for(key, customer), agent=agent, category=category, model=model)
    query = SeriesQuery(utc(start), utc(end), window, group, filters)
    try:
        query.check(service_of(request).settings.window_sizes)
    except QueryError as exc:
        raise ApiError(400, str(exc)) from None
    moment = datetime.now(UTC) if at is None else end_of_day(at) - timedelta(seconds=1)

    # One trip to the read thread for the queries asked for.
    def figures(client: Any) -> dict[str, Any]:
        shown: dict[str, Any] = {}
        if parts != "tops":
            points = dashboard_store.series(client, query)
            spend = dashboard_store.spend(client, filters, moment)
            shown |= _figures(spend, points, DAY_S if query.by_model else window, group)
        if parts != "figures":
            shown |= _tops(
                dashboard_store.top(client, "customer", query.start, query.end, filters, TOP_LIMIT),
                dashboard_store.top(client, "agent", query.start, query.end, filters, TOP_LIMIT),
            )
        return shown

    shown = await service_of(request).read(figures)
    # The key's binding: the page hides the customer filter.
    return {"currency": "USD", "customer": key.customer_id, "at": moment.isoformat(), **shown}


def _figures(spend: Spend, points: list[Point], window: int, group: str) -> dict[str, Any]:
    return {
        "spend": {
            "today": money(spend.today),
            "month": money(spend.month),
            "projected": money(spend.projected),
        },
        "window": window,
        "group": group,
        "series": _series(points),
        "total": money(sum((p.cost for p in points), Decimal(0))),
    }


def _tops(customers: list[Top], agents: list[Top]) -> dict[str, Any]:
    return {
        "top_customers": [
            {"customer": t.customer_id, "cost": money(t.cost), "events": t.events} for t in customers
        ],
        "top_agents": [
            {"customer": t.customer_id, "agent": t.agent_id, "cost": money(t.cost), "events": t.events}
            for t in agents
        ],
    }


@router.get(
    "/v1/dashboard/customer",
    summary="The dashboard's Customer view: the draft invoice as `costline invoice`, budgets, alerts, margin",
    tags=["dashboard"],
    responses={
        400: {"description": "no customer, or no subscription that month"},
        403: {"description": "another customer"},
    },
)
async def customer_view(
    request: Request,
    key: Annotated[ApiKey, Depends(authenticated(Scope.READ))],
    month: Annotated[str, Query(description="the month, as 2026-11")],
    customer: str = "",
    at: Annotated[date | None, Query(description="budgets as of the end of this day (default: now)")] = None,
) -> dict[str, Any]:
    who = customer_for(key, customer)
    if not who:
        raise ApiError(400, "name a customer: ?customer=ID")
    try:
        period = Period.parse(month)
    except BillingError as exc:
        raise ApiError(400, str(exc)) from None
    moment = datetime.now(UTC) if at is None else end_of_day(at) - timedelta(seconds=1)

    def read(client: Any) -> dict[str, Any]:
        invoice = invoice_document(invoice_for(BillingContext.load(client), who, period))
        return {
            "invoice": invoice,
            "at": moment.isoformat(),
            "budgets": dashboard_customer.budgets(client, who, moment),
            "alerts": dashboard_customer.alerts(client, who, period),
            "margins": dashboard_customer.margins(client, who, period.start.date()),
        }

    try:
        figures = await service_of(request).read(read)
    except BillingError as exc:
        raise ApiError(400, str(exc)) from None
    return {"customer": key.customer_id, "of": who, **figures}


@router.get(
    "/v1/dashboard/dead-letters",
    summary="The dashboard's dead letters: counts by code, with the newest samples",
    tags=["dashboard"],
    responses={403: {"description": "another customer"}},
)
async def dead_letters(
    request: Request,
    key: Annotated[ApiKey, Depends(authenticated(Scope.READ))],
    customer: str = "",
) -> dict[str, Any]:
    bound = customer_for(key, customer)
    codes = await service_of(request).read(
        lambda client: dashboard_store.dead_letters(client, bound, SAMPLES_PER_CODE, SAMPLE_PAYLOAD_CHARS)
    )
    return {
        "customer": key.customer_id,
        "codes": [
            {
                "code": c.code,
                "letters": c.letters,
                "latest": c.latest.isoformat(),
                "samples": [
                    {
                        "failed_at": s.failed_at.isoformat(),
                        "message_key": s.message_key,
                        "reason": s.reason,
                        "payload": s.payload,
                    }
                    for s in c.samples
                ],
            }
            for c in codes
        ],
    }


def _series(points: list[dashboard_store.Point]) -> list[dict[str, Any]]:
    """One entry per series, its windows in time order (the query sorts them)."""
    named: dict[str, list[list[str]]] = {}
    for point in points:
        named.setdefault(point.series, []).append([point.window_start.isoformat(), money(point.cost)])
    return [{"name": name, "points": windows} for name, windows in named.items()]
