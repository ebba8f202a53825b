"""The gate as the API runs it: off in a multi-process API, so no process holds a book of its own."""

from __future__ import annotations

from decimal import Decimal

import pytest

from costline.config import Settings
from costline.gate.service import BudgetGate, GateNotReady
from schemas.gate import GateCheck


def test_a_gate_turned_off_answers_every_check_with_why_and_reads_nothing() -> None:
    gate = BudgetGate(Settings(api_gate=False))
    gate.start()  # no feed task: nothing to read when nothing is answered
    check = GateCheck(customer_id="acme", agent_id="support-bot", estimate=Decimal("0.10"))

    with pytest.raises(GateNotReady, match="single-process API"):
        gate.check(check)
    with pytest.raises(GateNotReady, match="single-process API"):
        gate.release("res_1", "acme")
