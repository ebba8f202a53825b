"""A second worker joins mid-stream: partitions move, totals stay exact."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from schemas.events import UsageEvent
from schemas.prices import load_price_dir
from streams.clickhouse import read_query
from streams.harness import Pipeline
from streams.pricing import PriceCatalog
from streams.sample_day import sample_day
from streams.settings import Settings


@pytest.fixture()
def shared(services: Settings) -> Iterator[Pipeline]:
    p = Pipeline.create(services, "scale-out", partitions=4)
    p.load_prices()
    yield p
    p.close()


def fleet(customers: int) -> list[UsageEvent]:
    """The sample day, once per customer of a larger fleet."""
    day = sample_day(tasks_per_agent=60)
    return [
        e.model_copy(update={"customer_id": f"tenant-{n}", "event_id": f"{n}/{e.event_id}"})
        for n in range(customers)
        for e in day
    ]


def test_a_second_worker_takes_over_partitions_with_their_windows(shared: Pipeline) -> None:
    events = fleet(customers=12)
    catalog = PriceCatalog(load_price_dir(shared.settings.prices_dir))
    expected: dict[str, Decimal] = {}
    for event in events:
        expected[event.customer_id] = expected.get(event.customer_id, Decimal(0)) + catalog.price(event).cost

    # Every other event now, the rest after the rebalance: each window is hit
    # before and after its partition may have moved to the new worker.
    shared.publish(events[0::2], max_events=1)
    shared.start_worker()
    deadline = time.monotonic() + 120
    while shared.scalar("SELECT count() FROM ledger") < len(events) // 4:
        assert time.monotonic() < deadline, shared.worker_log()
        time.sleep(0.1)
    shared.start_worker()  # the group rebalances; some partitions and their windows move
    shared.wait_until_ready()
    shared.publish(events[1::2], max_events=1)

    shared.wait_for("SELECT count() FROM ledger FINAL", len(events), timeout=240)
    shared.wait_for(
        "SELECT sum(events) FROM cost_windows FINAL WHERE agent_id = '*' AND window_size = 3600",
        len(events),
        timeout=120,
    )
    assert len({w.pid for w in shared.workers if w.poll() is None}) == 2
    totals = dict(
        shared.rows(
            "SELECT customer_id, sum(cost) FROM cost_windows FINAL "
            "WHERE agent_id = '*' AND window_size = 3600 GROUP BY customer_id"
        )
    )
    assert totals == expected
    for size in (60, 3600):
        assert shared.rows(read_query("window_totals"), size=size) == shared.rows(
            read_query("ledger_windows"), size=size
        )
    # Both workers counted, and windows counted by the first grew under the second.
    for index in (0, 1):
        assert "counted" in shared.worker_log(index), shared.worker_log(index)
    assert "Restore complete" in shared.worker_log(1)
