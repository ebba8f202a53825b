"""Idempotency-Keys: remembered per API key for a day, bounded, forgotten on failure."""

from __future__ import annotations

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
