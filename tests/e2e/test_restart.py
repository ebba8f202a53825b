"""A worker killed with SIGKILL mid-stream resumes without loss or double counting."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from schemas.prices import load_price_dir
from streams.clickhouse import read_query
from streams.harness import Pipeline
from streams.pricing import PriceCatalog
from streams.sample_day import sample_day
from streams.settings import Settings


@pytest.fixture()
def cold(services: Settings) -> Iterator[Pipeline]:
    p = Pipeline.create(services, "restart")
    p.load_prices()
    yield p
    p.close()


def test_kill_nine_mid_stream_then_restart(cold: Pipeline) -> None:
    events = sample_day(tasks_per_agent=600, seed=11)
    catalog = PriceCatalog(load_price_dir(cold.settings.prices_dir))
    expected: dict[str, Decimal] = {}
    for event in events:
        expected[event.customer_id] = expected.get(event.customer_id, Decimal(0)) + catalog.price(event).cost

    # One event per message, as a plain Kafka producer sends them: slow
    # enough to kill the worker with batches committed, in flight and unread.
    cold.publish(events, max_events=1)
    cold.publish(events[::50], max_events=1)  # republished ids mixed into the stream
    cold.start_worker()
    deadline = time.monotonic() + 120
    # Kill once a third is in: batches are then committed, in flight and unread.
    while cold.scalar("SELECT count() FROM ledger") < len(events) // 3:
        assert time.monotonic() < deadline, cold.worker_log()
        time.sleep(0.05)
    cold.kill_worker()  # SIGKILL: no flush, no commit, no goodbye
    counted_before_kill = cold.scalar("SELECT count() FROM ledger FINAL")
    assert 0 < counted_before_kill < len(events)

    cold.start_worker()
    cold.wait_for("SELECT count() FROM ledger FINAL", len(events), timeout=180)
    cold.wait_for(
        "SELECT sum(events) FROM cost_windows FINAL WHERE agent_id = '*' AND window_size = 3600",
        len(events),
        timeout=60,
    )
    totals = dict(
        cold.rows(
            "SELECT customer_id, sum(cost) FROM cost_windows FINAL "
            "WHERE agent_id = '*' AND window_size = 3600 GROUP BY customer_id"
        )
    )
    assert totals == expected
    for size in (60, 3600):
        assert cold.rows(read_query("window_totals"), size=size) == cold.rows(
            read_query("ledger_windows"), size=size
        )
