"""Reprice runs: read the ledger, load the worker's catalog, append and record corrections.

Applying a run records it in ``reprice_runs`` first, then publishes its
corrections to the usage topic keyed by customer, where the worker counts
them exactly once like any event. If publishing fails half-way, running the
same reprice again appends only what is still missing: it reads the ledger
with every correction already counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from costline.clickhouse import read_query
from costline.config import Settings
from costline.publisher import UsagePublisher
from costline.reprice import RepricePlan, Window, corrections, plan_reprice
from streams.price_feed import PriceFeed
from streams.pricing import PriceCatalog

CATALOG_TIMEOUT_S = 60.0
RUN_COLUMNS = (
    "run_id",
    "created_at",
    "created_by",
    "reason",
    "from_time",
    "to_time",
    "customer",
    "model",
    "corrections",
    "old_cost",
    "new_cost",
    "delta",
)


@dataclass(frozen=True, slots=True)
class RepriceRun:
    run_id: str
    created_at: datetime
    created_by: str
    reason: str
    window: Window
    corrections: int
    old_cost: Decimal
    new_cost: Decimal
    delta: Decimal


def new_run_id(now: datetime) -> str:
    return f"reprice-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def load_catalog(settings: Settings, timeout_s: float = CATALOG_TIMEOUT_S) -> PriceCatalog:
    """The catalog the worker prices with: the prices topic read to its end, by the worker's own feed."""

    async def run() -> PriceCatalog:
        catalog = PriceCatalog()
        feed = PriceFeed(settings, catalog)
        task = asyncio.create_task(feed.run())
        try:
            ready = asyncio.create_task(feed.ready.wait())
            await asyncio.wait({task, ready}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()  # the feed's own error, e.g. no prices topic
            if not feed.ready.is_set():
                ready.cancel()
                raise TimeoutError(f"the prices topic was not read within {timeout_s:g} s")
            return catalog
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return asyncio.run(run())


def read_usage(client: Client, window: Window) -> list[dict[str, Any]]:
    """The ledger's usage rows in ``window``, each with its cost including earlier corrections."""
    result = client.query(
        read_query("reprice_ledger"),
        parameters={
            "from": window.start,
            "to": window.end,
            "customer": window.customer,
            "model": window.model,
        },
    )
    names = result.column_names
    return [dict(zip(names, row, strict=True)) for row in result.result_rows]


def plan(settings: Settings, client: Client, window: Window) -> RepricePlan:
    return plan_reprice(read_usage(client, window), load_catalog(settings))


def apply(
    settings: Settings, client: Client, window: Window, plan: RepricePlan, reason: str, by: str
) -> RepriceRun:
    """Record the run, then append its corrections through the usage topic."""
    now = datetime.now(UTC)
    run_id = new_run_id(now)
    events = corrections(plan, run_id, reason)
    run = RepriceRun(run_id, now, by, reason, window, len(events), plan.old, plan.new, plan.delta)
    record_run(client, run)

    async def publish() -> None:
        async with UsagePublisher.from_settings(settings) as publisher:
            await publisher.publish_many(events)
            await publisher.flush()

    asyncio.run(publish())
    return run


def record_run(client: Client, run: RepriceRun) -> None:
    w = run.window
    row = [run.run_id, run.created_at, run.created_by, run.reason, w.start, w.end, w.customer, w.model,
           run.corrections, run.old_cost, run.new_cost, run.delta]  # fmt: skip
    client.insert("reprice_runs", [row], column_names=list(RUN_COLUMNS))


def list_runs(client: Client) -> list[RepriceRun]:
    runs = []
    for r in client.query(read_query("reprice_runs")).result_rows:
        window = Window(r[4], r[5], r[6], r[7])
        runs.append(RepriceRun(r[0], r[1], r[2], r[3], window, int(r[8]), r[9], r[10], r[11]))
    return runs
