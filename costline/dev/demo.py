"""``costline demo``: the whole pipeline on a sample day, from nothing to a cost table.

The demo runs in its own database and topics (``costline_demo``,
``costline-demo.*``), emptied at the start, so it can be re-run at will and
never touches the data of a real ``costline`` worker on the same services.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from billing.costs import cost_summary
from billing.render import costs_table
from costline.clickhouse import open_client
from costline.config import Settings
from costline.dev import local_servers, worker_process
from costline.dev.sample_day import DAY, sample_day
from costline.kafka_auth import client_security
from costline.migrations import migrate
from costline.price_versions import publish_and_record
from costline.publisher import UsagePublisher
from schemas.events import LlmCall, UsageEvent
from schemas.prices import PriceVersion, load_price_files

PLANS_DIR = Path(__file__).resolve().parents[2] / "plans"
DEMO = {
    "app_id": "costline-demo",
    "usage_topic": "costline-demo.usage",
    "prices_topic": "costline-demo.prices",
    "dead_letter_topic": "costline-demo.usage.dlq",
    "clickhouse_database": "costline_demo",
    # The sample day is a fixed date; it stays countable however long ago it was.
    "event_max_age_s": 100 * 365 * 86400,
}


def demo_settings(settings: Settings) -> Settings:
    return settings.model_copy(update=DEMO)


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = worker_process.worker_env(settings, os.environ)
    return worker_process.start(env, settings.home / "run" / f"{settings.app_id}-worker.log")


async def _reset_topics(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **client_security(settings))
    await admin.start()
    try:
        prefix_topics = [t for t in await admin.list_topics() if t.startswith(settings.app_id)]
        if prefix_topics:
            await admin.delete_topics(prefix_topics)
            await asyncio.sleep(2)  # deletion is asynchronous on the broker
    finally:
        await admin.close()


def _step(text: str) -> None:
    print(f"==> {text}", flush=True)


def wait_for_ledger(settings: Settings, expected: int, timeout: float = 300) -> int:
    client = open_client(settings)
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        count = int(client.query("SELECT count() FROM ledger FINAL").result_rows[0][0])
        if count != seen:
            print(f"    {count:,} / {expected:,} events in the ClickHouse ledger", flush=True)
            seen = count
        if count >= expected:
            return count
        time.sleep(1)
    raise TimeoutError(f"only {seen} of {expected} events reached ClickHouse in {timeout:.0f}s")


def demo_price_versions(settings: Settings) -> list[PriceVersion]:
    """The shipped prices and the demo's own illustrative change at noon (``prices/demo/``),
    which a plain ``costline prices load`` never reads."""
    demo = settings.prices_dir / "demo"
    return load_price_files([*sorted(settings.prices_dir.glob("*.json")), *sorted(demo.glob("*.json"))])


def run_demo(base: Settings, keep_running: bool = False) -> int:
    settings = demo_settings(base)
    _step("starting local Kafka and ClickHouse (first run downloads Kafka from Maven Central)")
    started = local_servers.up(settings)
    _step("resetting demo topics and database")
    asyncio.run(_reset_topics(settings))
    open_client(settings, database="").command(f"DROP DATABASE IF EXISTS `{settings.clickhouse_database}`")
    _step("applying ClickHouse migrations")
    migrate(settings, log=lambda line: print(f"    {line}"))
    _step("loading price versions")
    versions = demo_price_versions(settings)
    publish_and_record(settings, open_client(settings), versions)
    for v in versions:
        print(f"    {v.version} effective {v.effective_from.isoformat()}")
    _step("starting the Faust worker")
    worker = start_worker(settings)
    try:
        events = sample_day()
        _step(f"publishing a sample day: {len(events):,} events, a duplicate and 2 bad messages")
        asyncio.run(_publish(settings, events))
        _step("waiting for the worker to count everything")
        wait_for_ledger(settings, len(events))
        _print_report(settings)
        _print_invoices(settings)
    finally:
        if not keep_running:
            _step("stopping the worker" + (f" and {' and '.join(started)}" if started else ""))
            worker_process.stop(worker)
            local_servers.down(settings, tuple(started))
    return 0


async def _publish(settings: Settings, events: list[UsageEvent]) -> None:
    async with UsagePublisher.from_settings(settings) as publisher:
        await publisher.publish_many(events)
        await publisher.publish(events[0])  # a producer retry: counted once
        await publisher.publish_raw(b"acme-corp", b'{"kind": "llm", "event_id": "broken"')
        await publisher.publish(
            LlmCall(
                kind="llm",
                event_id="acme-unpriced-1",
                occurred_at=DAY + timedelta(hours=9),
                customer_id="acme-corp",
                agent_id="support-bot",
                provider="openai",
                model="gpt-9-turbo",
                input_tokens=1200,
                output_tokens=300,
            )
        )
        await publisher.flush()


def _print_invoices(settings: Settings) -> None:
    from billing import store
    from billing.invoices import BillingContext, invoice_for
    from billing.periods import Period
    from billing.render import render_invoice

    client = open_client(settings)
    _step("loading meters and plans (plans/meters.json, plans/example.json)")
    for name in ("meters.json", "example.json"):
        print(f"    {name}: {store.load(client, store.read_billing_file(PLANS_DIR / name))}")
    ctx = BillingContext.load(client)
    period = Period(DAY.year, DAY.month)
    for customer in sorted({sub.customer_id for sub in store.subscriptions(client)}):
        _step(f"the draft invoice of {customer} for {period} (`costline invoice --finalize` stores one)")
        print(render_invoice(invoice_for(ctx, customer, period), "table"))


def _print_report(settings: Settings) -> None:
    client = open_client(settings)
    rows = cost_summary(client, DAY, DAY + timedelta(days=1))
    print()
    print(f"Cost of {DAY.date()} by customer, agent and category (priced at event time):")
    print(costs_table(rows, ["customer", "agent", "category"]))
    print()
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row.group[0]] = totals.get(row.group[0], Decimal(0)) + row.cost
    for customer, total in totals.items():
        print(f"  {customer:<12} ${total:,.6f}")
    dead = client.query("SELECT error_code, reason FROM dead_letters ORDER BY source_offset").result_rows
    print(f"\nDead letters ({len(dead)}), replayable with `costline dlq replay`:")
    for code, reason in dead:
        print(f"  {code:<15} {reason}")
    print()
