"""A batch's id hashes made natively (native/src/ids.rs) are the reference's: XXH64 of each id key,
and the same answer to whether any two are equal."""

from __future__ import annotations

import random

import numpy as np
import pytest

import streams.dedup as dedup
from streams.dedup import batch_id_hashes, id_key, id_keys, key_hashes

native = dedup._native
needs_native = pytest.mark.skipif(native is None, reason="the native extension is not built")


def reference(customers: list[str], event_ids: list[str]) -> tuple[list[int], bool]:
    hashes = key_hashes(id_keys(customers, event_ids))
    return hashes.tolist(), len(set(hashes.tolist())) == len(hashes)


def random_batch(seed: int, rows: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    alphabet = "ab-_.:é€😀0123456789"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 70))) for _ in range(5)]
    customers = []
    for text in texts:  # runs of one customer object, as the columnar decode's, and copies
        customers += [text] * rng.randint(1, 30) + ["".join(text)] * rng.randint(0, 3)
    # Every length from 0 to past 64 bytes: each of XXH64's tails and its 32-byte stripes.
    event_ids = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80))) for _ in customers]
    return customers[:rows] if rows else customers, event_ids[:rows] if rows else event_ids


@needs_native
@pytest.mark.parametrize("seed", range(20))
def test_native_hashes_are_the_reference_hashes(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    customers, event_ids = random_batch(seed, 0)
    hashes, distinct, no_keys = batch_id_hashes(customers, event_ids)
    assert (hashes.tolist(), distinct, no_keys) == (*reference(customers, event_ids), None)
    monkeypatch.setattr(dedup, "_native", None)
    python, python_distinct, keys = batch_id_hashes(customers, event_ids)
    assert (python.tolist(), python_distinct, keys) == (
        hashes.tolist(),
        distinct,
        id_keys(customers, event_ids),
    )


@pytest.mark.parametrize(
    "module",
    [None, *[m for m in [native] if m is not None]],
    ids=["python", "native"][: 1 + (native is not None)],
)
def test_a_repeated_id_is_reported_and_an_empty_batch_has_no_hashes(
    module: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dedup, "_native", module)
    customers, event_ids = ["acme", "acme", "globex", "acme"], ["e1", "e2", "e1", "e1"]
    hashes, distinct, keys = batch_id_hashes(customers, event_ids)
    assert not distinct and hashes.dtype == np.uint64 and keys in (None, id_keys(customers, event_ids))
    assert (
        hashes.tolist()
        == key_hashes([id_key(c, e) for c, e in zip(customers, event_ids, strict=True)]).tolist()
    )
    assert batch_id_hashes(customers[:3], event_ids[:3])[1]
    empty, none_twice, _ = batch_id_hashes([], [])
    assert len(empty) == 0 and none_twice
    assert batch_id_hashes(tuple(customers), tuple(event_ids))[0].tolist() == hashes.tolist()


@needs_native
def test_native_hashes_refuse_columns_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="customers for"):
        batch_id_hashes(["acme"], ["e1", "e2"])


class Shouting(str):
    """A str that prints itself its own way: ``id_keys`` joins its text, and so must the hashes."""

    def __str__(self) -> str:
        return self.upper()


@pytest.mark.parametrize(
    "module",
    [None, *[m for m in [native] if m is not None]],
    ids=["python", "native"][: 1 + (native is not None)],
)
def test_ids_that_are_not_plain_texts_are_hashed_as_id_keys_makes_them_or_refused_alike(
    module: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dedup, "_native", module)
    customers, event_ids = ["acme", Shouting("acme")], [Shouting("e1"), "e1"]
    hashes, distinct, _ = batch_id_hashes(customers, event_ids)
    assert hashes.tolist() == key_hashes([b"acme\x00e1"] * 2).tolist() and not distinct
    with pytest.raises(TypeError):
        batch_id_hashes(["acme", 7], ["e1", "e2"])  # type: ignore[list-item]
    with pytest.raises(UnicodeEncodeError):
        batch_id_hashes(["acme"], ["\ud800"])
