"""Alert latency: from publishing an event over the per-request limit to its alert on the alerts topic.

A steady stream of usage (``--rate`` events per second for ``--seconds``)
goes to a pipeline of its own with one monthly budget; every ``--every``-th
event costs $0.80, over the $0.50 per-request limit, and carries its publish
time in its request id. A consumer on the alerts topic reads each alert's
request id back. Also times the rules alone (``SpendRules.evaluate``) per
event, with and without a budget for the customer. The last line is JSON.

    .venv/bin/python -m bench.alert_latency [--rate 200] [--seconds 20] [--every 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from costline.budgets import publish_and_record
from costline.config import get_settings
from costline.dev.harness import Pipeline
from costline.kafka_auth import client_security
from costline.publisher import UsagePublisher
from schemas.alerts import Alert
from schemas.budgets import Budget
from schemas.events import usage_event_adapter
from streams.pricing import PricedEvent, TokenUsage
from streams.spend_rules import BudgetBook, LimitSettings, SpendRules, budget_rules


def _event(n: int, at: datetime, calls: int, request: str | None) -> Any:
    return usage_event_adapter.validate_python(
        {"kind": "tool", "event_id": f"lat-{n}", "occurred_at": at.isoformat(), "customer_id": "bench-co",
         "agent_id": "bench-bot", "tool": "twilio-sms", "calls": calls, "request_id": request}
    )  # fmt: skip


async def _stream(p: Pipeline, rate: int, seconds: float, every: int) -> list[float]:
    tp = TopicPartition(p.settings.alerts_topic, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=p.settings.kafka_bootstrap, group_id=None, **client_security(p.settings)
    )
    await consumer.start()
    consumer.assign([tp])
    await consumer.seek_to_end(tp)
    latencies: list[float] = []
    expected = 0

    async def read() -> None:
        while True:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                now = time.time()
                for r in records:
                    alert = Alert.model_validate_json(r.value or b"{}")
                    if alert.subject.startswith("sent-"):
                        latencies.append(now - float(alert.subject.removeprefix("sent-")))

    reader = asyncio.create_task(read())
    start = datetime(2026, 11, 20, 9, tzinfo=UTC)
    async with UsagePublisher(p.settings.kafka_bootstrap, p.settings.usage_topic, max_events=1) as publisher:
        began = time.monotonic()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
            over = n % every == 0
            request = f"sent-{time.time():.6f}" if over else None
            expected += over
            await publisher.publish_many(
                [_event(n, start + timedelta(milliseconds=n), 100 if over else 1, request)]
            )
        await publisher.flush()
    deadline = time.monotonic() + 60
    while len(latencies) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    reader.cancel()
    await consumer.stop()
    return latencies


def _rules_per_event_us(with_budget: bool, events: int = 20_000) -> float:
    budget = Budget(budget_id="b", customer_id="bench-co", period="month", amount=Decimal(10**9))  # type: ignore[arg-type]
    rules = SpendRules(
        BudgetBook([budget] if with_budget else []), budget_rules(Decimal(20), Decimal(10)), LimitSettings()
    )

    class Empty:
        def budget(self, key: bytes) -> None:
            return None

        def task(self, key: bytes) -> None:
            return None

        def mark(self, partition: int) -> Any:
            from streams.spend_state import RulesMark

            return RulesMark()

    at = datetime(2026, 11, 20, 9, tzinfo=UTC)
    batch = [
        (0, n << 16, PricedEvent(_event(n, at, 1, None), Decimal("0.008"), "v", "twilio-sms", "twilio",
                                 Decimal(1), "call", TokenUsage()))
        for n in range(events)
    ]  # fmt: skip
    began = time.perf_counter()
    rules.evaluate(batch, Empty())  # type: ignore[arg-type]
    return (time.perf_counter() - began) / events * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--every", type=int, default=20)
    args = parser.parse_args()
    p = Pipeline.create(get_settings(), "alertlat")
    try:
        p.load_prices()
        publish_and_record(p.settings, p.db, [Budget.model_validate(
            {"budget_id": "bench-monthly", "customer_id": "bench-co", "period": "month", "amount": "1000000"}
        )])  # fmt: skip
        p.start_worker(batch_max=1000)
        p.wait_until_ready(timeout=180)
        time.sleep(3)  # partitions assigned and feeds read before the clock starts
        latencies = sorted(asyncio.run(_stream(p, args.rate, args.seconds, args.every)))
    finally:
        p.close()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    result = {
        "phase": "alert_latency",
        "rate": args.rate,
        "seconds": args.seconds,
        "alerts": len(latencies),
        "expected": int(args.rate * args.seconds + args.every - 1) // args.every,
        "p50_s": round(q[49], 3),
        "p99_s": round(q[98], 3),
        "max_s": round(latencies[-1], 3) if latencies else None,
        "rules_us_per_event_no_budget": round(_rules_per_event_us(False), 2),
        "rules_us_per_event_one_budget": round(_rules_per_event_us(True), 2),
    }
    print(f"alert latency p50 {result['p50_s']} s, p99 {result['p99_s']} s over {len(latencies)} alerts")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
