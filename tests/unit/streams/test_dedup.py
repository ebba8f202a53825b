"""The dedup filter: ids counted within the horizon are always found, and leave by the clock."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from costline.config import Settings
from streams.dedup import DedupIndex, IdColumns, IdFilter, id_hashes, id_key, id_keys, key_hashes
from streams.sinks.clickhouse_sink import candidates_block
from tests.fakes import Clock

DAY = 86_400.0


def random_ids(n: int, seed: int) -> np.ndarray:  # type: ignore[type-arg]
    return np.random.default_rng(seed).integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)


def test_every_id_added_within_the_horizon_is_found() -> None:
    clock = Clock()
    ids = IdFilter(DAY, clock)
    batches = [random_ids(5_000, seed) for seed in range(40)]
    for batch in batches:  # spread over almost a day, many buckets and segments
        ids.add(batch)
        clock.advance(DAY / 41)
    assert all(ids.might_contain(batch).all() for batch in batches)


def test_an_id_is_forgotten_once_a_horizon_and_its_bucket_have_passed_without_any_traffic() -> None:
    clock = Clock()
    ids = IdFilter(DAY, clock)
    order = id_hashes([("acme", "req-81f3")])
    ids.add(order)
    clock.advance(DAY - 1)
    assert ids.might_contain(order).all()
    clock.advance(1 + DAY / 16)
    ids.expire()  # the worker's timer; nothing was added or asked meanwhile
    assert len(ids) == 0 and ids.nbytes == 0
    assert not ids.might_contain(order).any()


def test_few_new_ids_are_false_alarms_with_a_full_horizon_of_ids() -> None:
    clock = Clock()
    ids = IdFilter(DAY, clock)
    for seed in range(17):  # 17 buckets of 20k ids, added in batches
        for part in np.split(random_ids(20_000, seed), 4):
            ids.add(part)
        clock.advance(DAY / 16)
    assert ids.might_contain(random_ids(50_000, 99)).mean() < 0.03
    assert ids.nbytes / len(ids) < 5  # bytes an id


def test_a_rebuilt_filter_finds_what_was_counted_within_the_horizon_and_nothing_older() -> None:
    clock = Clock()
    recent, old = random_ids(10_000, 1), random_ids(10_000, 2)
    counted_at = np.concatenate(
        [np.full(len(recent), clock() - DAY / 2), np.full(len(old), clock() - 2.2 * DAY)]
    )
    ids = IdFilter(DAY, clock)
    ids.load(np.concatenate([recent, old]), counted_at)
    assert ids.might_contain(recent).all()
    assert ids.might_contain(old).mean() < 0.01
    clock.advance(DAY / 2 + DAY / 16 + 1)
    ids.expire()
    assert len(ids) == 0


def test_the_same_event_id_of_two_customers_hashes_apart() -> None:
    first, second = id_hashes([("acme", "e1"), ("globex", "e1")])
    assert first != second


def test_the_horizon_is_a_day_by_default_and_at_most_35_days() -> None:
    assert Settings().dedup_horizon_s == DAY
    assert Settings(dedup_horizon_s=35 * DAY).dedup_horizon_s == 35 * DAY
    for wrong in (36 * DAY, 60.0, -1.0):
        with pytest.raises(ValidationError):
            Settings(dedup_horizon_s=wrong)
        with pytest.raises(ValueError, match="outside"):
            DedupIndex(wrong)


def test_ids_joined_once_for_the_batch_hash_as_the_pairs_do() -> None:
    pairs = [("acme", "e1"), ("globex", "é-2"), ("acme", "e1")]
    assert key_hashes([id_key(c, e) for c, e in pairs]).tolist() == id_hashes(pairs).tolist()


def test_a_batchs_id_keys_are_each_pairs_key() -> None:
    customers, event_ids = ["acme", "acme", "beta\\co"], ["req-1", "req-2", "ü-3"]
    assert id_keys(customers, event_ids) == [id_key(c, e) for c, e in zip(customers, event_ids, strict=True)]
    assert id_keys([], []) == []


def test_id_keys_of_runs_of_one_customer_object_are_each_pairs_key() -> None:
    # The columnar decode's customers: one text object a message, shared by its events.
    texts = ["acme", "globex", "acme", "initech"]
    customers = [text for text, length in zip(texts, [40, 9, 1, 30], strict=True) for _ in range(length)]
    event_ids = [f"evt-{i}" for i in range(len(customers))]
    expected = [id_key(c, e) for c, e in zip(customers, event_ids, strict=True)]
    assert id_keys(customers, event_ids) == expected
    assert id_keys(tuple(customers), tuple(event_ids)) == expected
    # Equal texts, each its own object: every row is a run of one, joined a pair at a time.
    copies = ["".join(c) for c in customers]
    assert id_keys(copies, event_ids) == expected
    # A newline (which the contract refuses) in an id or a customer: still each pair's key.
    odd_ids = [*event_ids[:-1], "evt\nlast"]
    assert id_keys(customers, odd_ids) == [id_key(c, e) for c, e in zip(customers, odd_ids, strict=True)]
    odd = "in\nitech"
    odd_customers = [odd if c == "initech" else c for c in customers]
    assert id_keys(odd_customers, event_ids) == [
        id_key(c, e) for c, e in zip(odd_customers, event_ids, strict=True)
    ]
    with pytest.raises(ValueError):
        id_keys(customers, event_ids[:-1])


def test_id_columns_are_the_pairs_of_the_batch_s_columns_and_go_to_clickhouse_as_a_native_block() -> None:
    pairs = [("acme", "req-1"), ("beta\\co", "ü-3")]
    asked = IdColumns(["acme", "beta\\co"], ["req-1", "ü-3"])
    assert list(asked) == pairs and len(asked) == 2 and asked[1] == pairs[1]
    assert list(asked[1:]) == pairs[1:] and list(IdColumns.of(pairs)) == pairs
    # Two String columns, each value as its UTF-8 bytes after its length: no escape, no separator.
    assert candidates_block(asked) == (
        b"\x02\x02"
        + b"\x0bcustomer_id\x06String"
        + b"\x04acme"
        + b"\x07beta\\co"
        + b"\x08event_id\x06String"
        + b"\x05req-1"
        + b"\x04"
        + "ü-3".encode()
    )
    with pytest.raises(ValueError):
        IdColumns(["acme"], [])
