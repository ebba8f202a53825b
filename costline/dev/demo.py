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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from billing.costs import cost_summary
from billing.render import costs_table
from costline.api import key_store
from costline.api.keys import Scope
from costline.clickhouse import open_client
from costline.config import Settings
from costline.dev import api_process, local_servers, worker_process
from costline.dev.sample_day import DAY, sample_day
from costline.kafka import delete_app_topics
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
    # Its own budgets, alerts and live spend too: a demo worker must not read a real worker's
    # budgets, nor post the sample day's alerts where a real receiver listens.
    "budgets_topic": "costline-demo.budgets",
    "alerts_topic": "costline-demo.alerts",
    "budget_spend_topic": "costline-demo.budget_spend",
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
    if await delete_app_topics(settings):
        await asyncio.sleep(2)  # deletion is asynchronous on the broker


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


def start_api(settings: Settings) -> subprocess.Popen[bytes]:
    """``costline api`` on the demo's database and topics, on ``COSTLINE_API_PORT``."""
    env = worker_process.worker_env(settings, os.environ)
    env |= {"COSTLINE_API_HOST": settings.api_host, "COSTLINE_API_PORT": str(settings.api_port)}
    return api_process.start(settings, env, settings.home / "run" / f"{settings.app_id}-api.log")


@contextmanager
def stopped_at_exit(keep_running: bool) -> Iterator[list[tuple[str, Callable[[], None]]]]:
    """A list to which the demo adds (name, stop) for what it starts; at exit, whatever happened,
    each is stopped, last started first, unless ``keep_running``."""
    started: list[tuple[str, Callable[[], None]]] = []
    try:
        yield started
    finally:
        if not keep_running and started:
            _step("stopping " + ", ".join(name for name, _ in reversed(started)))
            for _, stop in reversed(started):
                stop()


def run_demo(base: Settings, keep_running: bool = False) -> int:
    settings = demo_settings(base)
    with stopped_at_exit(keep_running) as started:
        _step("starting local Kafka and ClickHouse (first run downloads Kafka from Maven Central)")
        servers = tuple(local_servers.up(settings))
        if servers:
            started.append((" and ".join(servers), lambda: local_servers.down(settings, servers)))
        _step("resetting demo topics and database")
        asyncio.run(_reset_topics(settings))
        open_client(settings, database="").command(
            f"DROP DATABASE IF EXISTS `{settings.clickhouse_database}`"
        )
        _step("applying ClickHouse migrations")
        migrate(settings, log=lambda line: print(f"    {line}"))
        _step("loading price versions")
        versions = demo_price_versions(settings)
        publish_and_record(settings, open_client(settings), versions)
        for v in versions:
            print(f"    {v.version} effective {v.effective_from.isoformat()}")
        _step("starting the Faust worker")
        worker = start_worker(settings)
        started.append(("the worker", lambda: worker_process.stop(worker)))
        events = sample_day()
        _step(f"publishing a sample day: {len(events):,} events, a duplicate and 2 bad messages")
        asyncio.run(_publish(settings, events))
        _step("waiting for the worker to count everything")
        wait_for_ledger(settings, len(events))
        _print_report(settings)
        _print_invoices(settings)
        _step(f"starting costline api on {api_process.api_url(settings)}")
        api = start_api(settings)
        started.append(("the API", lambda: api_process.stop(api)))
        _print_api(settings, keep_running)
    return 0


def _print_api(settings: Settings, keep_running: bool) -> None:
    _, secret = key_store.create_key(open_client(settings), [Scope.ADMIN], name="demo")
    url = api_process.api_url(settings)
    day = DAY.date()
    print(f"    API   {url}")
    print(f"    docs  {url}/docs")
    print(f"    dashboard  {url}/dashboard  (paste the key below; a --customer key sees one customer)")
    print(f"    a demo admin key (`costline keys create` makes others): {secret}")
    print("    the day's costs by customer, agent and category:")
    print(
        f'    curl -s -H "Authorization: Bearer {secret}" '
        f'"{url}/v1/costs?from={day}&to={day + timedelta(days=1)}&group_by=customer,agent,category"'
    )
    if not keep_running:
        print("    (the API stops with the demo; `costline demo --keep-running` leaves it up)")


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
