"""Idempotency-Keys: remembered per API key for a day, bounded, forgotten on failure."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

from costline.api.batches import check_events
from costline.api.idempotency import IdempotencyKeys, valid_key
from tests.factories import usage
from tests.fakes import Clock


def test_a_key_is_remembered_with_its_results_until_it_expires() -> None:
    clock = Clock()
    keys = IdempotencyKeys(ttl_s=86_400, max_keys=10, clock=clock)
    assert keys.claim("acme-key", "order-1", b"body") is None
    assert keys.claim("acme-key", "order-1", b"body") is not None  # running: no results yet
    results = check_events([usage("sms-1")]).results
    keys.complete("acme-key", "order-1", results)
    earlier = keys.claim("acme-key", "order-1", b"body")
    assert earlier is not None and earlier.results == results
    assert keys.claim("globex-key", "order-1", b"body") is None  # another tenant's key is another key
    clock.advance(86_401)
    assert keys.claim("acme-key", "order-1", b"body") is None


def test_the_oldest_keys_go_first_when_full_and_a_failed_request_is_forgotten() -> None:
    keys = IdempotencyKeys(ttl_s=60, max_keys=2, clock=Clock())
    for n in range(3):
        keys.claim("acme-key", f"order-{n}", b"body")
    assert len(keys) == 2 and keys.claim("acme-key", "order-0", b"body") is None
    keys.forget("acme-key", "order-2")
    assert keys.claim("acme-key", "order-2", b"body") is None


def test_an_idempotency_key_is_short_printable_ascii() -> None:
    assert valid_key("7f3c1a2e-order-1")
    assert not valid_key("") and not valid_key("x" * 256) and not valid_key("a\nb") and not valid_key("ключ")


def test_every_process_on_the_host_sees_the_same_keys(tmp_path: Path) -> None:
    one, other = (IdempotencyKeys(ttl_s=86_400, max_keys=10, path=tmp_path / "keys.sqlite3") for _ in "ab")
    assert one.claim("acme-key", "order-1", b"body") is None
    running = other.claim("acme-key", "order-1", b"body")
    assert running is not None and running.results is None  # the other process answers 409
    results = check_events([usage("sms-1")]).results
    one.complete("acme-key", "order-1", results)
    earlier = other.claim("acme-key", "order-1", b"another body")
    assert earlier is not None and earlier.results == results and earlier.body_sha256 == b"body"


def test_a_restart_forgets_no_key(tmp_path: Path) -> None:
    before = IdempotencyKeys(ttl_s=86_400, max_keys=10, path=tmp_path / "keys.sqlite3")
    before.claim("acme-key", "order-1", b"body")
    before.complete("acme-key", "order-1", check_events([usage("sms-1")]).results)
    before.close()
    after = IdempotencyKeys(ttl_s=86_400, max_keys=10, path=tmp_path / "keys.sqlite3")
    earlier = after.claim("acme-key", "order-1", b"body")
    assert earlier is not None and earlier.results is not None


def test_a_request_left_running_by_a_dead_process_is_taken_over_after_its_lease() -> None:
    clock = Clock()
    keys = IdempotencyKeys(ttl_s=86_400, max_keys=10, clock=clock, lease_s=90)
    keys.claim("acme-key", "order-1", b"body")  # and the process dies before complete()
    clock.advance(60)
    assert keys.claim("acme-key", "order-1", b"body") is not None  # may still be running: 409
    clock.advance(31)
    assert keys.claim("acme-key", "order-1", b"body") is None  # first again


def _claim_in_a_process(path: Path, start: Any, firsts: Any) -> None:
    keys = IdempotencyKeys(ttl_s=86_400, max_keys=10, path=path)
    start.wait()
    if keys.claim("acme-key", "order-1", b"body") is None:
        firsts.put(os.getpid())


def test_of_four_processes_claiming_one_key_at_once_exactly_one_is_first(tmp_path: Path) -> None:
    # spawn, not fork: a fork of the test process copies locks other threads may hold.
    spawn = multiprocessing.get_context("spawn")
    start, firsts = spawn.Event(), spawn.Queue()
    path = tmp_path / "keys.sqlite3"
    IdempotencyKeys(ttl_s=86_400, max_keys=10, path=path).close()  # the file and its table exist
    processes = [spawn.Process(target=_claim_in_a_process, args=(path, start, firsts)) for _ in range(4)]
    for process in processes:
        process.start()
    start.set()
    for process in processes:
        process.join(30)
    assert all(process.exitcode == 0 for process in processes)
    assert firsts.qsize() == 1
