"""Three weeks of varied traffic through spend control give exactly the alerts and records recorded.

The fixture (``spend_golden.json``) was recorded from the per-event engine
before the spend rules were batched: the same alert ids in the same order,
the same payloads, the same records written after each batch (bytes and
source positions), through a replayed batch, a batch that failed once, late
events, month and day rollovers, price spikes, a runaway hour and token
drift. Any change to what spend control decides shows up here first. Detector
records, MessagePack since session 15, are digested as the JSON they were
recorded as (:func:`as_before`): what they hold must not change either.

Regenerate (only for a deliberate change of behaviour) with
``COSTLINE_GOLDEN_WRITE=1 .venv/bin/python -m pytest tests/unit/streams/test_spend_golden.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from schemas.alerts import Alert, AlertRule
from schemas.budgets import Budget
from schemas.events import usage_event_adapter
from streams.aggregation import Counted
from streams.anomalies import HourlySpend, RequestCostHistory, TokenDrift
from streams.anomalies.encoding import dump_state
from streams.anomaly_rules import AnomalyRules, AnomalySettings
from streams.pricing import PricedEvent, TokenUsage
from streams.spend_control import SpendControl, TableSpend
from streams.spend_rules import BudgetBook, LimitSettings, SpendRules, budget_rules
from streams.spend_state import ANOMALY_PREFIX, DetectorRecord, split_key

FIXTURE = Path(__file__).with_name("spend_golden.json")
START = datetime(2026, 11, 14, 0, tzinfo=UTC)  # two weeks of history, then a month's end
NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
CUSTOMERS = ("acme", "globex", "initech", "umbrella", "hooli")
AGENTS = ("support-bot", "coder", "triage")
MODELS = ("gpt-4o", "claude-sonnet", "gemini-flash")


def golden_budgets() -> list[Budget]:
    shapes: list[dict[str, Any]] = [
        {"budget_id": "acme-month", "customer_id": "acme", "period": "month", "amount": "40",
         "thresholds": [25, 50, 80, 100], "revenue": "45"},
        {"budget_id": "acme-agent-day", "customer_id": "acme", "scope": "agent", "period": "day",
         "amount": "2.5", "burn_rate_excess": 30, "limits": {"request_cost": "0.20", "task_tokens": 20000}},
        {"budget_id": "acme-coder-week", "customer_id": "acme", "scope": "customer_agent",
         "agent_id": "coder", "period": "week", "amount": "6", "limits": {"task_cost": "0.15"}},
        {"budget_id": "globex-rolling", "customer_id": "globex", "period": "rolling_hours", "hours": 3,
         "amount": "0.9", "thresholds": [50, 100]},
        {"budget_id": "globex-month", "customer_id": "globex", "period": "month", "amount": "25",
         "revenue": "30", "min_margin_pct": 35},
        {"budget_id": "initech-task", "customer_id": "initech", "scope": "task", "period": "day",
         "amount": "0.3", "limits": {"request_tokens": 1400}},
        {"budget_id": "hooli-day", "customer_id": "hooli", "period": "day", "amount": "3",
         "burn_rate_excess": 0},
    ]  # fmt: skip
    return [Budget.model_validate(shape) for shape in shapes]


def engine() -> SpendRules:
    return SpendRules(
        BudgetBook(golden_budgets()),
        budget_rules(Decimal(20), Decimal(10)),
        LimitSettings(request_cost=Decimal("0.50"), task_tokens=15000),
        now=lambda: NOW,
        anomalies=AnomalyRules(AnomalySettings()),
    )


def traffic(seed: int = 12) -> list[Counted]:
    """Twenty days of requests, in source order per partition (a customer's partition is fixed)."""
    rng = random.Random(seed)
    out: list[Counted] = []
    positions = [0, 0]
    day0 = START
    for minute in range(0, 20 * 24 * 60, 7):
        at = day0 + timedelta(minutes=minute, seconds=rng.randrange(60))
        day = minute // (24 * 60)
        busy = 1 + (at.hour in range(9, 18))
        for c, customer in enumerate(CUSTOMERS):
            if rng.random() > 0.5 * busy:
                continue
            runaway = (customer == "globex" and day == 17 and at.hour == 14) or (  # a loop: many requests
                customer == "hooli" and day == 15 and at.hour == 3 and at.minute >= 40  # late in a quiet hour
            )
            for _ in range(12 if runaway else 1):
                out.append(_event(rng, positions, c, customer, at, day, runaway))
    return out


def _event(rng: random.Random, positions: list[int], c: int, customer: str, at: datetime, day: int,
           runaway: bool) -> Counted:  # fmt: skip
    agent = AGENTS[rng.randrange(len(AGENTS))]
    n = sum(positions)
    cost = Decimal(rng.randrange(800, 2400)) / Decimal(100_000)  # about 1.6 cents
    if rng.random() < 0.004:
        cost *= 30  # a price spike: one request far above its agent's average
    if runaway:
        cost *= 3
    tokens = 900 + rng.randrange(400)
    if customer == "umbrella" and agent == "coder":
        tokens = tokens * (100 + 4 * day) // 100  # a prompt that grows every day
    late = rng.random() < 0.01
    occurred = at - (timedelta(days=2) if rng.random() < 0.2 else timedelta(minutes=20)) if late else at
    task = f"t{customer[:2]}{day}-{rng.randrange(6)}" if rng.random() < 0.4 else None
    request = f"r{n}" if rng.random() < 0.8 else None
    event = usage_event_adapter.validate_python(
        {"kind": "llm", "event_id": f"e{n}", "occurred_at": occurred, "customer_id": customer,
         "agent_id": agent, "provider": "openai", "model": MODELS[rng.randrange(len(MODELS))],
         "input_tokens": tokens, "output_tokens": tokens // 10, "task_id": task, "request_id": request}
    )  # fmt: skip
    priced = PricedEvent(event, cost, "v1", str(event.model), "openai", Decimal(1), "token",  # type: ignore[attr-defined]
                         TokenUsage(input=tokens, output=tokens // 10))  # fmt: skip
    partition = c % 2
    positions[partition] += 1
    return (partition, positions[partition] << 16, priced)


class _Table:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}


class _Records(TableSpend):
    """The worker's table, and what each batch wrote to its changelog."""

    def __init__(self) -> None:
        super().__init__(_Table())
        self.written: list[tuple[int, bytes, bytes | None]] = []

    async def flush(self) -> None:
        for partition, records in self.changelog._pending.items():
            self.written += [(partition, key, value) for key, value in records]
        self.changelog._pending.clear()


class _Outlet:
    def __init__(self) -> None:
        self.fail_next = False

    async def store(self, alerts: Sequence[Alert]) -> None:
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("ClickHouse is away")

    async def publish(self, alerts: Sequence[Alert]) -> None:
        return None


async def _retry(call: Callable[[], Awaitable[Any]], what: str) -> Any:
    return await call()


def as_before(key: bytes, raw: bytes | None) -> bytes | None:
    """A record's bytes as spend control wrote them when the fixture was recorded: a detector's record
    (MessagePack since session 15) as its JSON, read back and written as then, byte for byte the same
    if what it holds is; any other record's bytes as they are."""
    parts = split_key(key)
    if raw is None or parts[0] != ANOMALY_PREFIX:
        return raw
    r = DetectorRecord.decode(raw)
    loads: dict[str, Callable[[bytes], Any]] = {
        AlertRule.HOURLY_SPIKE: HourlySpend.from_bytes,
        AlertRule.REQUEST_COST_ANOMALY: RequestCostHistory.from_bytes,
        AlertRule.TOKEN_DRIFT: TokenDrift.from_bytes,
    }
    state = dump_state(loads[parts[1]](r.state).to_json()) if r.state else b""
    header = orjson.dumps(
        [r.position, r.partition, r.last_seen, r.episode, r.hour, r.contributors], default=str
    )
    return header + b"\n" + state


def _digest(*parts: bytes) -> str:
    return hashlib.sha256(b"\x00".join(parts)).hexdigest()[:20]


async def run_golden() -> dict[str, Any]:
    """Every batch's alerts (id, rule, status, payload digest) and changelog digest, and the final table."""
    events = traffic()
    rng = random.Random(7)
    records, outlet = _Records(), _Outlet()
    control = SpendControl(engine(), records, outlet)
    batches: list[list[Any]] = []
    start = 0
    while start < len(events):
        size = rng.choice((1, 3, 40, 120, 250, 600))
        batch = events[start : start + size]
        if len(batches) % 9 == 4:  # the batch fails once storing its alerts, and is judged again
            outlet.fail_next = True
            with contextlib.suppress(ConnectionError):  # no alerts: stored, and judged again as a replay
                await control.apply(batch, _retry)
            outlet.fail_next = False
        if len(batches) % 7 == 5:  # a replay after a crash: from a little before this batch
            batch = events[max(0, start - size // 2) : start + size]
        records.written.clear()
        alerts = await control.apply(batch, _retry)
        written = b"".join(
            b"%d\x1f%s\x1e%s\x1d" % (p, k, as_before(k, v) or b"-") for p, k, v in records.written
        )
        batches.append([
            start, len(batch), _digest(written),
            [[a.alert_id, str(a.rule), str(a.status), _digest(a.payload())] for a in alerts],
        ])  # fmt: skip
        start += size
    table = sorted(records.table.data.items())
    return {
        "events": len(events),
        "batches": batches,
        "table": _digest(*(k + b"=" + as_before(k, v) for k, v in table)),
        "keys": len(table),
    }


async def test_spend_control_gives_the_recorded_alerts_and_records() -> None:
    got = await run_golden()
    if os.environ.get("COSTLINE_GOLDEN_WRITE"):
        FIXTURE.write_text(json.dumps(got, separators=(",", ":")) + "\n")
    want = json.loads(FIXTURE.read_text())
    assert got["events"] == want["events"]
    for mine, theirs in zip(got["batches"], want["batches"], strict=True):
        assert mine == theirs, f"batch at event {theirs[0]} differs"
    assert (got["table"], got["keys"]) == (want["table"], want["keys"])


def test_the_golden_traffic_exercises_every_rule() -> None:
    want = json.loads(FIXTURE.read_text())
    seen = {(rule, status) for batch in want["batches"] for _, rule, status, _ in batch[3]}
    rules = {rule for rule, _ in seen}
    assert rules >= {"budget_threshold", "burn_rate", "margin", "request_cost", "request_tokens", "task_cost",
                     "task_tokens", "request_cost_anomaly", "hourly_spike", "token_drift"}  # fmt: skip
    assert ("hourly_spike", "resolved") in seen and ("budget_threshold", "resolved") in seen
