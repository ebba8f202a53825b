"""Alerts reach a customer's webhook: signed, retried while it fails, delivered once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from costline.config import Settings
from costline.dev.harness import Pipeline
from costline.kafka_auth import client_security
from costline.webhooks import deliveries
from costline.webhooks.endpoints import Endpoint, add_endpoint
from costline.webhooks.retries import DeliveryStatus
from costline.webhooks.runner import WebhookRunner
from costline.webhooks.signing import ALERT_ID_HEADER, SIGNATURE_HEADER, verify


@dataclass
class Receiver:
    """A customer's endpoint that answers each request with the next scripted status."""

    answers: list[int]
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        self.requests.append((headers, body))
        return self.answers.pop(0) if self.answers else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    the_receiver = Receiver(answers=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(the_receiver.answer(dict(self.headers.items()), body))
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    the_receiver.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield the_receiver
    server.shutdown()


@pytest.fixture
def pipeline(services: Settings) -> Iterator[Pipeline]:
    p = Pipeline.create(
        services,
        "webhooks",
        webhook_retry_base_s=0.05,
        webhook_retry_max_s=0.2,
        webhook_poll_s=0.1,
    )
    yield p
    p.close()


def alert(alert_id: str, customer: str) -> bytes:
    return orjson.dumps(
        {"alert_id": alert_id, "rule": "budget_threshold", "status": "firing", "customer_id": customer}
    )


async def send_alerts(settings: Settings, *bodies: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, **client_security(settings))
    await producer.start()
    try:
        for body in bodies:
            await producer.send_and_wait(
                settings.alerts_topic, body, key=orjson.loads(body)["alert_id"].encode()
            )
    finally:
        await producer.stop()


async def run_until(
    settings: Settings, done: Callable[[], bool], linger_s: float = 1.0, wait_s: float = 60
) -> None:
    """The sender, until ``done()`` holds (bounded), then ``linger_s`` more to show nothing else is sent."""
    stop = asyncio.Event()
    task = asyncio.create_task(WebhookRunner(settings).run(stop))
    deadline = time.monotonic() + wait_s
    while not done() and time.monotonic() < deadline and not task.done():
        await asyncio.sleep(0.05)
    await asyncio.sleep(linger_s)
    stop.set()
    await task


def endpoint_for(pipeline: Pipeline, receiver: Receiver, customer: str | None = "acme") -> Endpoint:
    return add_endpoint(pipeline.db, f"http://127.0.0.1:{receiver.port}/hooks/costline", customer)


async def test_a_receiver_that_fails_twice_gets_one_signed_delivery(
    pipeline: Pipeline, receiver: Receiver
) -> None:
    receiver.answers = [500, 503]
    endpoint = endpoint_for(pipeline, receiver)
    body = alert("al_budget_80", "acme")
    await send_alerts(pipeline.settings, body)

    await run_until(pipeline.settings, lambda: len(receiver.requests) >= 3)

    assert len(receiver.requests) == 3
    assert {headers[ALERT_ID_HEADER] for headers, _ in receiver.requests} == {"al_budget_80"}
    headers, received = receiver.requests[-1]
    assert received == body
    verify(endpoint.secret, headers[SIGNATURE_HEADER], received, now=int(time.time()))
    [delivery] = deliveries.find(pipeline.db, alert_id="al_budget_80")
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)

    # A restarted sender, and the same alert sent again (a replay): nothing more is delivered.
    await send_alerts(pipeline.settings, body)
    await run_until(pipeline.settings, lambda: False, linger_s=0, wait_s=1.5)
    assert len(receiver.requests) == 3


async def test_a_refusal_is_not_retried_until_redelivered(pipeline: Pipeline, receiver: Receiver) -> None:
    receiver.answers = [400]
    endpoint_for(pipeline, receiver)
    await send_alerts(pipeline.settings, alert("al_refused", "acme"))

    await run_until(pipeline.settings, lambda: len(receiver.requests) >= 1)
    assert len(receiver.requests) == 1
    [delivery] = deliveries.find(pipeline.db, alert_id="al_refused")
    assert (delivery.status, delivery.last_error) == (DeliveryStatus.FAILED, "HTTP 400")

    assert deliveries.redeliver(pipeline.db, "al_refused", delivery.queued_at) == 1
    await run_until(pipeline.settings, lambda: len(receiver.requests) >= 2)
    assert len(receiver.requests) == 2
    assert deliveries.find(pipeline.db, alert_id="al_refused")[0].status is DeliveryStatus.DELIVERED


async def test_an_endpoint_for_one_customer_gets_only_its_alerts(
    pipeline: Pipeline, receiver: Receiver
) -> None:
    endpoint_for(pipeline, receiver, customer="acme")
    await send_alerts(pipeline.settings, alert("al_umbrella", "umbrella"), alert("al_acme", "acme"))

    await run_until(pipeline.settings, lambda: len(receiver.requests) >= 1)
    assert [headers[ALERT_ID_HEADER] for headers, _ in receiver.requests] == ["al_acme"]
