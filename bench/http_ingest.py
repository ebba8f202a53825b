"""HTTP ingest rate: batches of 500 events from a few concurrent clients, all on loopback.

``python -m bench.http_ingest [--clients 1,2,4] [--batches 200] [--batch 500]``
runs ``costline api`` as its own process (on its own topic and database)
and, for each number of clients in turn, sends ``--batches`` batches of new
events (after a warm-up of one batch a client) and prints events/s, p50/p99
request latency and the CPU the API process spent per event (a figure that
holds on a shared machine better than a rate). In the same run, for the same
number of events: the raw Kafka produce rate through the SDK (to a topic of
its own). With ``--worker``, also one worker's end-to-end rate
(``bench.run``'s ``end_to_end``, started cold) on exactly the messages the
API produced: slow (minutes), since these events spread over a day and a
request's messages hold ~3 events each (one per customer), where
``bench.run``'s hold hundreds. The last line is JSON.
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
from typing import Any

import httpx
import orjson

from bench import cpu
from bench.run import end_to_end
from bench.services import service_pids
from bench.workload import events, expected_total
from costline.api import key_store
from costline.api.keys import Scope
from costline.config import Settings, get_settings
from costline.dev.harness import Pipeline
from costline.publisher import UsagePublisher
from schemas.events import UsageEvent, usage_event_adapter
from schemas.prices import load_price_dir
from streams.pricing import PriceCatalog


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_api(settings: Settings, port: int, log: Path, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "COSTLINE_USAGE_TOPIC": settings.usage_topic,
        "COSTLINE_CLICKHOUSE_DATABASE": settings.clickhouse_database,
        "COSTLINE_API_MAX_INFLIGHT_EVENTS": "100000",
    }
    command = [sys.executable, "-m", "costline.cli", "api", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
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


def _api_pids(api: subprocess.Popen[bytes]) -> list[int]:
    """The API's process and, with --workers, its worker processes."""
    children = Path(f"/proc/{api.pid}/task/{api.pid}/children")
    found = [int(pid) for pid in children.read_text().split()] if children.exists() else []
    return [api.pid, *found]


async def _send(port: int, key: str, bodies: list[bytes], clients: int) -> list[float]:
    """Each client a keep-alive HTTP/1.1 connection, written by hand: httpx spent ~6 µs of CPU an
    event here, a third of the API's own, on the same two cores it was measuring."""
    latencies: list[float] = []
    queue = list(reversed(bodies))
    head = f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
    head += "Content-Type: application/json\r\nContent-Length: "

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                body = queue.pop()
                started = time.perf_counter()
                writer.write(f"{head}{len(body)}\r\n\r\n".encode() + body)
                status, answer = await _answer(reader)
                latencies.append(time.perf_counter() - started)
                if status != 202 or orjson.loads(answer)["accepted"] != body.count(b'"event_id"'):
                    raise SystemExit(f"unexpected answer {status}: {answer[:300]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The status and body of one answer (uvicorn gives each a Content-Length)."""
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


Pids = dict[str, list[int]]


def _phase(port: int, key: str, bodies: list[bytes], clients: int, pids: Pids) -> dict[str, Any]:
    """``clients`` clients send ``bodies`` (the first ``clients`` of them as a warm-up, untimed)."""
    asyncio.run(_send(port, key, bodies[:clients], clients))
    timed = bodies[clients:]
    count = sum(body.count(b'"event_id"') for body in timed)
    before = cpu.snapshot(pids)
    started = time.perf_counter()
    latencies = asyncio.run(_send(port, key, timed, clients))
    elapsed = time.perf_counter() - started
    after = cpu.snapshot(pids)
    ms = sorted(x * 1000 for x in latencies)
    used = cpu.per_million(before, after, count)
    return {
        "clients": clients,
        "events": count,
        "http_events_per_s": round(count / elapsed),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1),
        # CPU µs per event: per_million's seconds per 1M events are µs per event.
        **{key.replace("cpu_s_per_1m_", "cpu_us_per_event_"): round(v, 1) for key, v in used.items()},
    }


async def _sdk_rate(settings: Settings, sample: list[UsageEvent]) -> float:
    async with UsagePublisher.from_settings(settings, max_events=500) as sdk:
        started = time.perf_counter()
        await sdk.publish_many(sample)
        await sdk.flush()  # acknowledged inside the timed interval, as an HTTP batch is before its answer
        return len(sample) / (time.perf_counter() - started)


def _bodies(first: int, count: int, batch: int) -> tuple[list[bytes], list[tuple[bytes, bytes]]]:
    """``count`` batches of new events, from event number ``first`` on, and their (key, value) pairs."""
    pairs = list(events(first + count * batch))[first:]
    values = [value for _, value in pairs]
    return [b"[" + b",".join(values[i : i + batch]) + b"]" for i in range(0, len(values), batch)], pairs


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", default="1,2,4", help="concurrent clients, one phase each: 1,2,4")
    parser.add_argument("--batches", type=int, default=200, help="timed batches per phase")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--api-processes", type=int, default=1, help="costline api --workers N")
    parser.add_argument("--worker", action="store_true", help="then a worker on the API's messages")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    base = get_settings()
    pipeline = Pipeline.create(base, "bench-http", partitions=8)
    if args.worker:
        pipeline.load_prices()
    port = _free_port()
    log = pipeline.settings.home / "run" / f"bench-http-api-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    api = _start_api(pipeline.settings, port, log, args.api_processes)
    phases: list[dict[str, Any]] = []
    sent: list[tuple[bytes, bytes]] = []
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, api)
        time.sleep(1)  # --workers: every worker process up, not only the first to answer
        _, key = key_store.create_key(pipeline.db, [Scope.INGEST], name="bench")
        pids = {"api": _api_pids(api), "bench_client": [os.getpid()]} | service_pids(base)
        for clients in (int(c) for c in args.clients.split(",")):
            bodies, pairs = _bodies(len(sent), clients + args.batches, args.batch)
            sent += pairs
            phases.append(_phase(port, key, bodies, clients, pids))
            print(orjson.dumps(phases[-1]).decode(), flush=True)
    finally:
        api.terminate()
        api.wait(30)
    result: dict[str, Any] = {
        "batch": args.batch,
        "api_processes": args.api_processes,
        "api_pids_timed": len(pids["api"]),  # the supervisor and its workers with --api-processes
        "phases": phases,
    }
    sdk_pipeline = Pipeline.create(base, "bench-http-sdk", partitions=8)
    sample = [usage_event_adapter.validate_json(value) for _, value in sent[: args.batches * args.batch]]
    result["sdk_events_per_s"] = round(asyncio.run(_sdk_rate(sdk_pipeline.settings, sample)))
    sdk_pipeline.close()
    if args.worker:
        catalog = PriceCatalog(load_price_dir(base.prices_dir))
        e2e = end_to_end(pipeline, len(sent), expected_total(sent, catalog), batch_max=1000, workers=1)
        kept = ("e2e_events_per_s", "e2e_steady_events_per_s", "totals_exact")
        result["worker"] = {k: e2e[k] for k in kept}
    pipeline.close()
    _summarize(result)


def _summarize(result: dict[str, Any]) -> None:
    worker = result.get("worker", {}).get("e2e_events_per_s")
    for phase in result["phases"]:
        phase["http_to_sdk"] = round(phase["http_events_per_s"] / result["sdk_events_per_s"], 2)
        if worker:
            phase["http_to_worker"] = round(phase["http_events_per_s"] / worker, 2)
        print(
            f"{phase['clients']} clients: {phase['http_events_per_s']:,} events/s, p50 {phase['p50_ms']} ms, "
            f"p99 {phase['p99_ms']} ms, API CPU {phase.get('cpu_us_per_event_api')} µs/event"
        )
    print(f"raw produce through the SDK: {result['sdk_events_per_s']:,} events/s")
    if worker:
        print(f"one worker end to end on what the API produced: {worker:,.0f} events/s")
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
