"""Alert latency: from publishing an event over the per-request limit to its alert on the alerts topic.

A steady stream of usage (``--rate`` events per second for ``--seconds``)
goes to a pipeline of its own with one monthly budget; every ``--every``-th
event costs $0.80, over the $0.50 per-request limit, and carries its publish
time in its request id. A consumer on the alerts topic reads each alert's
request id back. Also times the rules alone (``SpendRules.evaluate``) per
event, with and without a budget for the customer. The last line is JSON.

    .venv/bin/python -m bench.alert_latency [--rate 200] [--seconds 20] [--every 20]

``bench.run --phases alerts`` runs the same at 5,000 events/s (``--latency-rate``).
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
from costline.config import Settings, get_settings
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


async def _stream(p: Pipeline, rate: int, seconds: float, every: int) -> tuple[list[float], float]:
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
    total = int(rate * seconds)
    # Built before the clock starts, but for those that carry their publish time.
    normal = {n: _event(n, start + timedelta(milliseconds=n), 1, None) for n in range(total) if n % every}
    per_tick = max(
        1, rate // 100
    )  # every 10 ms, the events due by then: a Python loop per event lags at 5k/s
    # Up to 100 events a message, as the SDK sends them (one a message is another, slower workload).
    async with UsagePublisher(
        p.settings.kafka_bootstrap, p.settings.usage_topic, max_events=100
    ) as publisher:
        began = time.monotonic()
        for first in range(0, total, per_tick):
            await asyncio.sleep(max(0.0, began + first / rate - time.monotonic()))
            batch = []
            for n in range(first, min(first + per_tick, total)):
                if n in normal:
                    batch.append(normal[n])
                    continue
                expected += 1
                request = f"sent-{time.time():.6f}"
                batch.append(_event(n, start + timedelta(milliseconds=n), 100, request))
            await publisher.publish_many(batch)
        sent_s = time.monotonic() - began
        await publisher.flush()
    deadline = time.monotonic() + 60
    while len(latencies) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    reader.cancel()
    await consumer.stop()
    return latencies, total / sent_s


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


def alert_latency(settings: Settings, rate: int, seconds: float, every: int) -> dict[str, Any]:
    """The figures of one run on a pipeline of its own: alert latency quantiles at ``rate``."""
    p = Pipeline.create(settings, "alertlat")
    try:
        p.load_prices()
        publish_and_record(p.settings, p.db, [Budget.model_validate(
            {"budget_id": "bench-monthly", "customer_id": "bench-co", "period": "month", "amount": "1000000"}
        )])  # fmt: skip
        p.start_worker(batch_max=1000)
        p.wait_until_ready(timeout=180)
        time.sleep(3)  # partitions assigned and feeds read before the clock starts
        found, published_rate = asyncio.run(_stream(p, rate, seconds, every))
    finally:
        p.close()
    latencies = sorted(found)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {
        "alert_latency_rate": rate,
        "alert_latency_published_per_s": round(published_rate, 1),
        "alert_latency_alerts": len(latencies),
        "alert_latency_expected": int(rate * seconds + every - 1) // every,
        "alert_latency_p50_s": round(q[49], 3),
        "alert_latency_p99_s": round(q[98], 3),
        "alert_latency_max_s": round(latencies[-1], 3) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--every", type=int, default=20)
    args = parser.parse_args()
    result: dict[str, Any] = {"phase": "alert_latency"}
    result |= alert_latency(get_settings(), args.rate, args.seconds, args.every)
    result["rules_us_per_event_no_budget"] = round(_rules_per_event_us(False), 2)
    result["rules_us_per_event_one_budget"] = round(_rules_per_event_us(True), 2)
    print(
        f"alert latency p50 {result['alert_latency_p50_s']} s, p99 {result['alert_latency_p99_s']} s "
        f"over {result['alert_latency_alerts']} alerts"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
