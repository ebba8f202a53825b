"""Ask the budget gate before an expensive call: the SDK side of ``POST /v1/gate/check``.

::

    async with GateClient("http://127.0.0.1:18080", api_key) as gate:
        decision = await gate.check(customer_id="acme", agent_id="researcher", estimate=Decimal("0.40"))
        if decision.allowed:
            ...  # make the call; publish its usage with attributes={RESERVATION_ATTRIBUTE: reservation_id}

When the gate cannot be reached (no connection, no answer within
``timeout_s``, a 5xx such as the gate still loading, a 429), the client answers
itself, with ``source="gate_unreachable"``: allowed or not as the budgets
say (``on_unreachable``, closed by default for a hard budget), remembered
from the last answer for the same customer, agent, user and task (else for
the customer), else ``default_fail_mode``. A 4xx (a bad key, another
customer, a bad estimate) is the caller's mistake and raises
:class:`GateError` with the gate's one-line reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any

import httpx

from schemas.budgets import OnUnreachable
from schemas.gate import DecisionSource, GateCheck, GateDecision

DEFAULT_TIMEOUT_S = 1.0
Scope = tuple[str, str, str | None, str | None]


class GateError(Exception):
    """The gate refused the request itself (4xx): a bad key, another customer's scope, a bad estimate."""


@dataclass
class _Memory:
    """The fail mode each scope's last answer gave, for answering when the gate is out of reach."""

    default: OnUnreachable
    by_scope: dict[Scope, GateDecision] = field(default_factory=dict)
    by_customer: dict[str, GateDecision] = field(default_factory=dict)

    def remember(self, request: GateCheck, decision: GateDecision) -> GateDecision:
        self.by_scope[_scope(request)] = decision
        self.by_customer[request.customer_id] = decision
        return decision

    def fallback(self, request: GateCheck, why: str) -> GateDecision:
        last = self.by_scope.get(_scope(request)) or self.by_customer.get(request.customer_id)
        mode = last.fail_mode if last is not None else self.default
        said = f"budget {last.budget_id} says" if last is not None and last.budget_id else "configured"
        return GateDecision(
            allowed=mode is OnUnreachable.OPEN,
            remaining=None,
            low=last.low if last is not None else False,
            budget_id=last.budget_id if last is not None else None,
            kind=last.kind if last is not None else None,
            fail_mode=mode,
            reason=f"gate unreachable ({why}); failing {mode} as {said}",
            source=DecisionSource.GATE_UNREACHABLE,
        )


def _scope(request: GateCheck) -> Scope:
    return request.customer_id, request.agent_id, request.user_id, request.task_id


def _request(customer_id: str, agent_id: str, estimate: Decimal, **more: Any) -> GateCheck:
    return GateCheck(customer_id=customer_id, agent_id=agent_id, estimate=estimate, **more)


def _answer(memory: _Memory, request: GateCheck, response: httpx.Response) -> GateDecision:
    if response.status_code >= 500 or response.status_code == 429:
        return memory.fallback(request, f"HTTP {response.status_code}: {_message(response)}")
    if response.status_code >= 400:
        raise GateError(f"the gate refused the check (HTTP {response.status_code}): {_message(response)}")
    return memory.remember(request, GateDecision.model_validate_json(response.content))


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"])
    except Exception:
        return response.text[:200] or response.reason_phrase


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}


class GateClient:
    """The asynchronous client; :class:`SyncGateClient` is the same for synchronous code."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        default_fail_mode: OnUnreachable = OnUnreachable.CLOSED,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.memory = _Memory(default_fail_mode)
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=_headers(api_key), timeout=timeout_s, transport=transport
        )

    async def check(self, customer_id: str, agent_id: str, estimate: Decimal, **more: Any) -> GateDecision:
        """``more``: user_id, task_id, ttl_s (how long the reservation holds without usage)."""
        request = _request(customer_id, agent_id, estimate, **more)
        try:
            response = await self._http.post("/v1/gate/check", content=request.model_dump_json())
        except httpx.TransportError as exc:
            return self.memory.fallback(request, _why(exc))
        return _answer(self.memory, request, response)

    async def release(self, reservation_id: str) -> bool:
        """Free a reservation whose call was not made; False if it was gone (or the gate unreachable)."""
        try:
            response = await self._http.delete(f"/v1/gate/reservations/{reservation_id}")
        except httpx.TransportError:
            return False  # it expires by itself
        return response.status_code == 200

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> GateClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class SyncGateClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        default_fail_mode: OnUnreachable = OnUnreachable.CLOSED,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.memory = _Memory(default_fail_mode)
        self._http = httpx.Client(
            base_url=base_url, headers=_headers(api_key), timeout=timeout_s, transport=transport
        )

    def check(self, customer_id: str, agent_id: str, estimate: Decimal, **more: Any) -> GateDecision:
        request = _request(customer_id, agent_id, estimate, **more)
        try:
            response = self._http.post("/v1/gate/check", content=request.model_dump_json())
        except httpx.TransportError as exc:
            return self.memory.fallback(request, _why(exc))
        return _answer(self.memory, request, response)

    def release(self, reservation_id: str) -> bool:
        try:
            return self._http.delete(f"/v1/gate/reservations/{reservation_id}").status_code == 200
        except httpx.TransportError:
            return False

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SyncGateClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _why(exc: httpx.TransportError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
