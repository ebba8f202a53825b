"""``POST /v1/gate/check`` and ``DELETE /v1/gate/reservations/{id}``: the budget gate over HTTP.

A check needs the ``gate`` scope: it reads a customer's remaining budget and
holds part of it, which an ``ingest`` key (write-only usage) does not grant.
A customer-bound key checks and releases only its own customer's (403, and
404 for a reservation of another customer's, so ids learn nothing).
A refusal is an answer (200, ``allowed: false``), not an error.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from costline.api.auth import Forbidden
from costline.api.keys import ApiKey, Scope
from costline.api.service import ApiError, authenticated, service_of
from costline.gate.reservations import TooManyReservations
from costline.gate.service import GateNotReady
from schemas.gate import GateCheck, GateDecision, Released

router = APIRouter(tags=["gate"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "not a valid check: the field and what is wrong"},
    401: {"description": "no valid API key"},
    403: {"description": "the key lacks the gate scope, or is bound to another customer"},
    429: {"description": "the customer holds too many open reservations; the SDK fails per budget"},
    503: {"description": "the gate is still loading; the SDK fails open or closed per budget"},
}


@router.post(
    "/v1/gate/check",
    summary="May this agent spend about this much now? Reserves it when allowed",
    response_model=GateDecision,
    responses=_ERRORS,
)
async def check(
    request: Request, body: GateCheck, key: Annotated[ApiKey, Depends(authenticated(Scope.GATE))]
) -> GateDecision:
    if not key.may_act_for(body.customer_id):
        raise Forbidden(f"this key checks only customer {key.customer_id!r}, not {body.customer_id!r}")
    service = service_of(request)
    try:
        decision = service.gate.check(body)
    except GateNotReady as exc:
        raise ApiError(503, str(exc), retry_after_s=1) from None
    except TooManyReservations as exc:
        raise ApiError(429, str(exc), retry_after_s=1) from None
    service.metrics.gate_decisions.labels("allowed" if decision.allowed else "denied").inc()
    return decision


@router.delete(
    "/v1/gate/reservations/{reservation_id}",
    summary="Release a reservation whose call was not made (or cost nothing)",
    response_model=Released,
    responses={
        **_ERRORS,
        404: {"description": "no open reservation of that id: settled, released or expired"},
    },
)
async def release(
    request: Request,
    reservation_id: Annotated[str, Path(max_length=64)],
    key: Annotated[ApiKey, Depends(authenticated(Scope.GATE))],
) -> Released:
    try:
        freed = service_of(request).gate.release(reservation_id, key.customer_id)
    except GateNotReady as exc:
        raise ApiError(503, str(exc), retry_after_s=1) from None
    if freed is None:
        raise ApiError(404, f"no open reservation {reservation_id!r}: settled, released or expired")
    return Released(reservation_id=reservation_id, released=freed)
