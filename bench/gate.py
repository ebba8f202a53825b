"""Budget gate latency: ``POST /v1/gate/check`` over HTTP on loopback, next to ``GET /healthz``.

``python -m bench.gate [--checks 2000] [--clients 1,8]`` runs ``costline api``
as its own process (its own topics and database), loads a hard budget, and
times checks from 1 and then from 8 concurrent clients; ``/healthz`` is
timed the same way in the same run, as the floor of the HTTP stack under
the gate. Also the decision alone, in process (the reservation book, no
HTTP). Each check reserves (ttl 5 s), so expiry runs as in production.
Last, the worker's extra cost per batch that changes budgets: publishing
their live spend (1 and 10 budgets) and waiting for Kafka's acks, with a
producer set as the worker's (acks all, linger 5 ms). The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from bench.http_ingest import _free_port, _wait_ready
from costline.api import key_store
from costline.api.keys import Scope
from costline.budgets import publish_and_record
from costline.config import Settings, get_settings
from costline.dev.harness import Pipeline
from costline.gate.reservations import ReservationBook
from costline.kafka_auth import client_security
from schemas.budgets import Budget
from schemas.gate import GateCheck
from streams.live_spend import LiveSpendOutlet
from streams.spend_rules import BudgetBook
from streams.spend_state import BudgetSpend, budget_key

BUDGET = Budget.model_validate(
    {
        "budget_id": "bench-day",
        "customer_id": "bench-co",
        "period": "day",
        "amount": "1000000",
        "kind": "hard",
    }
)
CHECK = {"customer_id": "bench-co", "agent_id": "researcher", "estimate": "0.01", "ttl_s": 5}


def _start_api(pipeline: Pipeline, port: int) -> subprocess.Popen[bytes]:
    s = pipeline.settings
    names = ("usage_topic", "budgets_topic", "budget_spend_topic", "clickhouse_database")
    env = {**os.environ, **{f"COSTLINE_{n.upper()}": str(getattr(s, n)) for n in names}}
    log = s.home / "run" / f"bench-gate-api-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "costline.cli", "api", "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


async def _timed(url: str, key: str, path: str, count: int, clients: int) -> tuple[list[float], float]:
    """Latencies (ms) of ``count`` requests from ``clients`` concurrent clients, and the elapsed seconds."""
    latencies: list[float] = []
    left = itertools.count()
    body = orjson.dumps(CHECK)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
            while next(left) < count:
                started = time.perf_counter()
                if path == "/healthz":
                    answer = await http.get(path)
                else:
                    answer = await http.post(path, content=body)
                latencies.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200 or (path != "/healthz" and not answer.json()["allowed"]):
                    raise SystemExit(f"unexpected answer {answer.status_code}: {answer.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, time.perf_counter() - started


def _figures(latencies: list[float], elapsed: float) -> dict[str, float]:
    ms = sorted(latencies)
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
        "per_s": round(len(ms) / elapsed),
    }


def _in_process(count: int) -> float:
    """Microseconds per decision of the reservation book alone."""
    book = ReservationBook(BudgetBook([BUDGET]), ttl_s=5)
    check = GateCheck.model_validate({**CHECK, "estimate": Decimal("0.01")})
    started = time.perf_counter()
    for _ in range(count):
        book.check(check)
    return (time.perf_counter() - started) / count * 1e6


async def _worker_publish(settings: Settings, budgets: int, rounds: int) -> dict[str, float]:
    """Milliseconds to publish ``budgets`` changed records of a batch and have them acknowledged."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5, **client_security(settings)
    )
    await producer.start()
    try:
        outlet = LiveSpendOutlet(BudgetBook([BUDGET]), lambda: producer, settings.budget_spend_topic)
        latencies = []
        for n in range(rounds):
            changed = {
                budget_key(BUDGET.budget_id, f"agent-{b}"): BudgetSpend(
                    0, Decimal(n), position=n, partition=0
                )
                for b in range(budgets)
            }
            started = time.perf_counter()
            await outlet.publish(changed, [])
            latencies.append((time.perf_counter() - started) * 1000)
        return {k: v for k, v in _figures(latencies, 1).items() if k != "per_s"}
    finally:
        await producer.stop()


def _wait_gated(url: str, key: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    headers = {"Authorization": f"Bearer {key}"}
    while time.monotonic() < deadline:
        answer = httpx.post(f"{url}/v1/gate/check", json={**CHECK, "estimate": "0"}, headers=headers)
        if answer.status_code == 200 and answer.json()["budget_id"] == BUDGET.budget_id:
            return
        time.sleep(0.2)
    raise SystemExit("the gate did not load the bench budget")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=2000, help="requests per run, for each client count")
    parser.add_argument("--clients", default="1,8", help="client counts, run in turn")
    args = parser.parse_args()
    pipeline = Pipeline.create(get_settings(), "bench-gate")
    publish_and_record(pipeline.settings, pipeline.db, [BUDGET])
    _, key = key_store.create_key(pipeline.db, [Scope.GATE], "bench-co", name="bench")
    port = _free_port()
    api = _start_api(pipeline, port)
    result: dict[str, Any] = {"checks": args.checks}
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, api)
        _wait_gated(url, key)
        asyncio.run(_timed(url, key, "/v1/gate/check", 200, 1))  # warm up
        for clients in (int(c) for c in args.clients.split(",")):
            for name, path in (("healthz", "/healthz"), ("check", "/v1/gate/check")):
                figures = _figures(*asyncio.run(_timed(url, key, path, args.checks, clients)))
                result[f"{name}_{clients}c"] = figures
                print(f"{name:<8} {clients} client(s): p50 {figures['p50_ms']} ms, "
                      f"p99 {figures['p99_ms']} ms, {figures['per_s']}/s")  # fmt: skip
        for budgets in (1, 10):
            result[f"worker_publish_{budgets}b"] = figures = asyncio.run(
                _worker_publish(pipeline.settings, budgets, 200)
            )
            print(f"worker, a batch changing {budgets} budget(s): p50 {figures['p50_ms']} ms, "
                  f"p99 {figures['p99_ms']} ms to publish and be acknowledged")  # fmt: skip
    finally:
        api.terminate()
        api.wait(30)
        pipeline.close()
    result["decision_us"] = round(_in_process(args.checks), 1)
    print(f"the decision alone, in process: {result['decision_us']} µs (a shared 2-core machine: noisy)")
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
