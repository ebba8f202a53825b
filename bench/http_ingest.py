"""HTTP ingest rate: batches of 500 events from a few concurrent clients, all on loopback.

``python -m bench.http_ingest [--clients 4] [--batches 40] [--batch 500]``
runs ``costline api`` as its own process (on its own topic and database),
sends ``clients × batches`` batches, and prints events/s, p50/p99 request
latency and, for the same events in the same run, the raw Kafka produce
rate through the SDK. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from bench.workload import events
from costline.api import key_store
from costline.api.keys import Scope
from costline.config import get_settings
from costline.dev.harness import Pipeline
from costline.publisher import UsagePublisher
from schemas.events import UsageEvent, usage_event_adapter


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_api(pipeline: Pipeline, port: int, log: Path) -> subprocess.Popen[bytes]:
    s = pipeline.settings
    env = {
        **os.environ,
        "COSTLINE_USAGE_TOPIC": s.usage_topic,
        "COSTLINE_CLICKHOUSE_DATABASE": s.clickhouse_database,
        "COSTLINE_API_MAX_INFLIGHT_EVENTS": "100000",
    }
    command = [sys.executable, "-m", "costline.cli", "api", "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_ready(url: str, api: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and api.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the API did not get ready at {url}")


async def _send(url: str, key: str, bodies: list[bytes], clients: int) -> list[float]:
    latencies: list[float] = []
    queue = list(reversed(bodies))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
            while queue:
                body = queue.pop()
                started = time.perf_counter()
                answer = await http.post("/v1/events", content=body)
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 202 or answer.json()["accepted"] != body.count(b'"event_id"'):
                    raise SystemExit(f"unexpected answer {answer.status_code}: {answer.text[:300]}")

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


async def _sdk_rate(pipeline: Pipeline, sample: list[UsageEvent]) -> float:
    s = pipeline.settings
    async with UsagePublisher.from_settings(s, max_events=500) as sdk:
        started = time.perf_counter()
        await sdk.publish_many(sample)
        await sdk.flush()  # acknowledged inside the timed interval, as an HTTP batch is before its answer
        return len(sample) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batches", type=int, default=40, help="per client")
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    total = args.clients * args.batches * args.batch
    values = [value for _, value in events(total)]
    bodies = [b"[" + b",".join(values[i : i + args.batch]) + b"]" for i in range(0, total, args.batch)]
    pipeline = Pipeline.create(get_settings(), "bench-http")
    port = _free_port()
    log = pipeline.settings.home / "run" / f"bench-http-api-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    api = _start_api(pipeline, port, log)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, api)
        _, key = key_store.create_key(pipeline.db, [Scope.INGEST], name="bench")
        asyncio.run(_send(url, key, bodies[: args.clients], args.clients))  # warm up
        started = time.perf_counter()
        latencies = asyncio.run(_send(url, key, bodies, args.clients))
        elapsed = time.perf_counter() - started
    finally:
        api.terminate()
        api.wait(30)
    sdk = asyncio.run(_sdk_rate(pipeline, [usage_event_adapter.validate_json(v) for v in values]))
    pipeline.close()
    ms = sorted(x * 1000 for x in latencies)
    result = {
        "events": total,
        "clients": args.clients,
        "batch": args.batch,
        "http_events_per_s": round(total / elapsed),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1),
        "sdk_events_per_s": round(sdk),
        "http_to_sdk": round(total / elapsed / sdk, 2),
    }
    print(f"{total:,} events over HTTP in {elapsed:.1f} s from {args.clients} clients")
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
