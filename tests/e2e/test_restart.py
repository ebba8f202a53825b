"""A worker killed with SIGKILL mid-stream resumes without loss or double counting."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from schemas.prices import load_price_dir
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
    expected = PriceCatalog(load_price_dir(cold.settings.prices_dir)).totals(events)

    # One event per message, as a plain Kafka producer sends them: slow
    # enough to kill the worker with batches committed, in flight and unread.
    cold.publish(events, max_events=1)
    cold.publish(events[::50], max_events=1)  # republished ids mixed into the stream
    cold.start_worker()
    deadline = time.monotonic() + 120
    # Kill once a third is in: batches are then committed, in flight and unread.
    while cold.scalar("SELECT count() FROM ledger") < len(events) // 3:
        assert time.monotonic() < deadline, cold.workers_report()
        time.sleep(0.05)
    cold.kill_worker()  # SIGKILL: no flush, no commit, no goodbye
    counted_before_kill = cold.scalar("SELECT count() FROM ledger FINAL")
    assert 0 < counted_before_kill < len(events)

    cold.start_worker()
    cold.wait_until_counted(len(events), timeout=180)
    assert cold.customer_totals() == expected
    assert cold.windows_match_ledger()
