"""No single event can stall billing: through the real broker, worker and ClickHouse.

A customer's stream carries events ClickHouse refuses, a message whose events
span 101 months, a message too big to dead-letter whole, an array with three
bad events, and a ClickHouse server that hangs. Each time the good events are
counted exactly, every bad one is a dead letter with its reason, on the topic
and in the table, and the partition keeps moving.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from costline.config import Settings
from costline.dead_letters import replay_dead_letters
from costline.dev import local_servers
from costline.dev.harness import Pipeline
from schemas.dead_letters import DeadLetterCode
from schemas.prices import load_price_dir
from tests.factories import encoded

NOW = datetime.now(UTC).replace(microsecond=0)


def array(*events: bytes) -> bytes:
    return b"[" + b",".join(events) + b"]"


@pytest.fixture(scope="module")
def pipeline(services: Settings) -> Iterator[Pipeline]:
    p = Pipeline.create(services, "poison")
    # Today's list prices, in force since 2015 too: events here go back 101 months.
    [listed, *_] = load_price_dir(p.settings.prices_dir)
    since_2015 = listed.model_copy(
        update={"version": "2015-test", "effective_from": datetime(2015, 1, 1, tzinfo=UTC)}
    )
    p.load_prices([since_2015, *load_price_dir(p.settings.prices_dir)])
    p.worker_env = {
        # Ten years back: this module's events span 101 months on purpose.
        "COSTLINE_EVENT_MAX_AGE_S": str(10 * 366 * 86400),
        # A hung server is abandoned after 2 s here (30 s by default).
        "COSTLINE_CLICKHOUSE_TIMEOUT_S": "2",
    }
    p.start_worker()
    p.wait_until_ready()
    yield p
    p.close()


def counted(p: Pipeline, prefix: str) -> int:
    return int(p.scalar("SELECT count() FROM ledger FINAL WHERE startsWith(event_id, {p:String})", p=prefix))


def dead_letter_rows(p: Pipeline, code: str) -> list[tuple[Any, ...]]:
    return p.rows(
        "SELECT source_offset, source_index, length(payload) FROM dead_letters FINAL "
        "WHERE error_code = {code:String} ORDER BY source_offset, source_index",
        code=code,
    )


def test_events_clickhouse_refuses_are_dead_lettered_and_the_rest_counted(pipeline: Pipeline) -> None:
    # A rule the operator added: ClickHouse now refuses every row of this agent.
    pipeline.db.command("ALTER TABLE ledger ADD CONSTRAINT no_poison CHECK agent_id != 'poison-bot'")
    try:
        good = [encoded(f"refuse-good-{i}", at=NOW) for i in range(20)]
        poison = [encoded(f"refuse-bad-{i}", agent="poison-bot", at=NOW) for i in range(4)]
        mixed = array(good[0], poison[1], good[1], poison[2], good[2], poison[3], good[3])
        pipeline.publish([], raw=[(b"acme", v) for v in [*good[4:], poison[0], mixed]])

        pipeline.wait_for("SELECT count() FROM dead_letters FINAL WHERE error_code = 'unstorable'", 4)
        assert counted(pipeline, "refuse-good-") == 20
        assert counted(pipeline, "refuse-bad-") == 0
        # One row per rejected event, the array's three at their own places in it.
        assert [index for _, index, _ in dead_letter_rows(pipeline, "unstorable")] == [0, 1, 3, 5]
        letters = [d for d in pipeline.dead_letters(4) if d.code == DeadLetterCode.UNSTORABLE]
        assert len(letters) == 4
        assert all("no_poison" in d.reason for d in letters)
        pipeline.wait_until_windows_match_ledger()
    finally:
        pipeline.db.command("ALTER TABLE ledger DROP CONSTRAINT no_poison")


def test_a_message_spanning_101_months_is_counted_whole(pipeline: Pipeline) -> None:
    months = [NOW.replace(day=1) - timedelta(days=31 * m) for m in range(101)]
    message = array(*(encoded(f"months-{m}", at=at) for m, at in enumerate(months)))
    pipeline.publish([], raw=[(b"acme", message)])

    pipeline.wait_for("SELECT count() FROM ledger FINAL WHERE startsWith(event_id, 'months-')", 101)
    pipeline.wait_until_windows_match_ledger()


def test_an_array_with_three_bad_events_keeps_three_dead_letter_rows(pipeline: Pipeline) -> None:
    bad = encoded("three-bad", at=NOW, calls=-1)
    message = array(
        encoded("three-ok-0", at=NOW),
        bad,
        encoded("three-ok-1", at=NOW),
        bad,
        bad,
        encoded("three-ok-2", at=NOW),
    )
    pipeline.publish([], raw=[(b"acme", message)])

    pipeline.wait_for("SELECT count() FROM ledger FINAL WHERE startsWith(event_id, 'three-ok-')", 3)
    rows = pipeline.wait_for(
        "SELECT groupArray(source_index) FROM dead_letters FINAL WHERE payload LIKE '%three-bad%'", [1, 3, 4]
    )
    assert rows == [1, 3, 4]


def test_an_oversize_dead_letter_reaches_the_topic_cut_and_is_replayed_whole(pipeline: Pipeline) -> None:
    # An unknown field makes it invalid; its size makes the letter, with headers, too big for the broker.
    raw = encoded("oversize", at=NOW, junk="x" * 1_040_000)
    pipeline.publish([], raw=[(b"acme", raw)])

    pipeline.wait_for(
        "SELECT max(length(payload)) FROM dead_letters FINAL WHERE reason LIKE '%junk%'", len(raw)
    )
    [letter] = [d for d in pipeline.dead_letters(99, timeout=10) if d.truncated_from is not None]
    assert letter.truncated_from == len(raw)
    assert letter.value is not None and raw.startswith(letter.value) and len(letter.value) < len(raw)

    replayed = asyncio.run(replay_dead_letters(pipeline.settings, code=DeadLetterCode.INVALID_EVENT))
    assert replayed >= 1
    # The replay sent the whole payload: the worker rejects it again for the same reason, at full size.
    pipeline.wait_for(
        "SELECT count() FROM dead_letters FINAL WHERE length(payload) = {n:UInt64}", 2, n=len(raw)
    )


def test_a_hung_clickhouse_is_timed_out_logged_and_caught_up(pipeline: Pipeline) -> None:
    server = local_servers.clickhouse_server(pipeline.settings)
    pid = server.pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        pipeline.publish([], raw=[(b"acme", encoded(f"hung-{i}", at=NOW)) for i in range(10)])
        deadline = time.monotonic() + 60
        while not (retries := timeouts(pipeline)):
            assert time.monotonic() < deadline, pipeline.workers_report()
            time.sleep(0.5)
    finally:
        os.kill(pid, signal.SIGCONT)
    pipeline.wait_for("SELECT count() FROM ledger FINAL WHERE startsWith(event_id, 'hung-')", 10)
    # Each retry says what it retries: the batch's topic, partition and offsets.
    assert all(f"{pipeline.settings.usage_topic}[" in line and "@" in line for line in retries)


def timeouts(p: Pipeline) -> list[str]:
    return [line for line in p.worker_log().splitlines() if "Timeout" in line and "retry" in line]
