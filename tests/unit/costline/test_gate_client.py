"""The SDK's gate client: the gate's answer when it answers, each budget's fail mode when it does not."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from costline.gate_client import GateClient, GateError, SyncGateClient
from schemas.budgets import BudgetKind, OnUnreachable
from schemas.gate import DecisionSource, GateDecision


def answer(fail_mode: OnUnreachable, kind: BudgetKind = BudgetKind.HARD) -> GateDecision:
    return GateDecision(allowed=True, remaining=Decimal("0.50"), low=False, budget_id="acme-day", kind=kind,
                        fail_mode=fail_mode, reservation_id="res_" + "0" * 24, reason="allowed")  # fmt: skip


class Gate:
    """A gate behind a fake transport: answers ``decision`` until taken down."""

    def __init__(self, decision: GateDecision) -> None:
        self.decision, self.down, self.status = decision, False, 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.status != 200:
            return httpx.Response(self.status, json={"error": "this key checks only customer 'globex'"})
        return httpx.Response(200, content=self.decision.model_dump_json())


async def ask(client: GateClient, agent: str = "researcher") -> GateDecision:
    return await client.check(customer_id="acme", agent_id=agent, estimate=Decimal("0.10"))


@pytest.mark.parametrize(("mode", "allowed"), [(OnUnreachable.CLOSED, False), (OnUnreachable.OPEN, True)])
async def test_an_unreachable_gate_fails_as_the_last_answer_for_the_scope_said(
    mode: OnUnreachable, allowed: bool
) -> None:
    gate = Gate(answer(mode))
    async with GateClient("http://gate", "cl_key", transport=httpx.MockTransport(gate)) as client:
        assert (await ask(client)).source is DecisionSource.GATE
        gate.down = True
        fallback = await ask(client)

    assert (fallback.allowed, fallback.source, fallback.fail_mode) == (allowed, "gate_unreachable", mode)
    assert fallback.reason.startswith(f"gate unreachable (ConnectError: connection refused); failing {mode}")
    assert fallback.budget_id == "acme-day" and fallback.remaining is None


async def test_without_any_answer_yet_the_configured_default_decides() -> None:
    gate = Gate(answer(OnUnreachable.CLOSED))
    gate.down = True
    transport = httpx.MockTransport(gate)
    async with GateClient("http://gate", "k", transport=transport, default_fail_mode=OnUnreachable.OPEN) as c:
        decision = await ask(c, agent="never-asked")
    assert decision.allowed and decision.reason.endswith("failing open as configured")


async def test_a_gate_loading_or_full_is_unreachable_and_another_customer_is_an_error() -> None:
    gate = Gate(answer(OnUnreachable.CLOSED))
    async with GateClient("http://gate", "k", transport=httpx.MockTransport(gate)) as client:
        await ask(client)
        for status in (503, 429):
            gate.status = status
            assert (await ask(client)).source is DecisionSource.GATE_UNREACHABLE
        gate.status = 403
        with pytest.raises(GateError, match=r"HTTP 403\): this key checks only customer 'globex'"):
            await ask(client)


def test_the_synchronous_client_fails_the_same_way() -> None:
    gate = Gate(answer(OnUnreachable.CLOSED))
    with SyncGateClient("http://gate", "k", transport=httpx.MockTransport(gate)) as client:
        client.check(customer_id="acme", agent_id="researcher", estimate=Decimal("0.10"))
        gate.down = True
        decision = client.check(customer_id="acme", agent_id="researcher", estimate=Decimal("0.10"))
        assert not decision.allowed and decision.source is DecisionSource.GATE_UNREACHABLE
        assert client.release("res_" + "0" * 24) is False
