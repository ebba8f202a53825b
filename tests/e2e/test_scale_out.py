"""A second worker joins mid-stream: partitions move, totals stay exact."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from costline.config import Settings
from costline.dev.harness import Pipeline
from costline.dev.sample_day import sample_day
from schemas.events import UsageEvent
from schemas.prices import load_price_dir
from streams.pricing import PriceCatalog


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
    expected = PriceCatalog(load_price_dir(shared.settings.prices_dir)).totals(events)

    # Every other event now, the rest after the rebalance: each window is hit
    # before and after its partition may have moved to the new worker.
    shared.publish(events[0::2], max_events=1)
    shared.start_worker()
    deadline = time.monotonic() + 120
    while shared.scalar("SELECT count() FROM ledger") < len(events) // 4:
        assert time.monotonic() < deadline, shared.workers_report()
        time.sleep(0.1)
    shared.start_worker()  # the group rebalances; some partitions and their windows move
    shared.wait_until_ready()
    shared.publish(events[1::2], max_events=1)

    shared.wait_until_counted(len(events), timeout=240)
    assert len({w.pid for w in shared.workers if w.poll() is None}) == 2
    assert shared.customer_totals() == expected
    assert shared.windows_match_ledger()
    # Both workers counted, and windows counted by the first grew under the second.
    for index in (0, 1):
        assert "counted" in shared.worker_log(index), shared.worker_log(index)
    assert "Restore complete" in shared.worker_log(1)
