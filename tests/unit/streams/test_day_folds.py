"""The daily detectors' quiet keys folded natively write the bytes the reference writes.

A fleet's request-cost histories and token drifts, stored as the worker stores them, each given a
run of a batch (of their newest day, mostly; some of another, some replayed, some firing, some new
keys): the native fold (:mod:`streams.day_folds`) folds the keys the reference folds, to the same
bytes, and leaves it the rest. What it cannot read or write is left to the reference unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from streams import anomaly_rules
from streams.anomalies import RequestCostSettings, TokenDriftSettings
from streams.anomalies.day_buckets import DayBuckets
from streams.anomalies.request_cost import RequestCostHistory
from streams.anomalies.token_drift import TokenDrift
from streams.anomaly_rules import Detector, _Fold
from streams.day_folds import DayFold, request_cost_fold, token_drift_fold
from streams.day_sums import DaySums
from streams.spend_state import DetectorRecord, EncodedRecord
from tests.unit.streams.test_spend_golden import FIXTURE, run_golden

DAY = 20_400  # 2025-11-08, as epoch days
REQUESTS = RequestCostSettings(min_requests=20, min_days=3)
DRIFT = TokenDriftSettings(min_recent_requests=30, min_baseline_days=5)

pytestmark = pytest.mark.skipif(
    request_cost_fold(REQUESTS) is None, reason="streams._wire_scan is not built (no cargo where installed)"
)


class _Lookup:
    """The records before the batch, as the worker's table holds them."""

    def __init__(self, raws: dict[bytes, bytes]) -> None:
        self.raws = raws

    def detector(self, key: bytes) -> DetectorRecord | None:
        raw = self.raws.get(key)
        return None if raw is None else DetectorRecord.decode(raw)

    def detector_raws(self, keys: Sequence[bytes]) -> list[bytes | None]:
        return list(map(self.raws.get, keys))


class _Events:
    """What :meth:`_Fold.quiet` reads of a batch: each event's position and partition."""

    def __init__(self, positions: list[int], partitions: list[int]) -> None:
        self.positions, self.partitions = positions, partitions
        self.firsts: list[tuple[int, int, bytes]] = []

    def position_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self.partitions, np.int64), np.array(self.positions, np.int64)


def _state(rng: random.Random, key: str, drift: bool) -> bytes:
    """A key's detector as days of history left it: some days of the window, some older, big sums."""
    newest = DAY - rng.choice((0, 0, 0, 1, 40))
    span = 31
    kept = rng.sample(range(newest - span - 3, newest + 1), rng.randrange(0, 12))
    kept += [newest] * rng.randrange(2)
    days = {d: [rng.randrange(rng.choice((10**9, 2**62))), rng.randrange(1, 400)] for d in kept}
    detector: RequestCostHistory | TokenDrift
    if drift:
        detector = TokenDrift(key, DRIFT)
        detector._days = DayBuckets(span, newest if days else -1, days)
        detector.fired_days = (
            set(rng.sample(sorted(days), min(len(days), rng.randrange(3)))) if days else set()
        )
    else:
        detector = RequestCostHistory(key, REQUESTS)
        detector._days = DayBuckets(REQUESTS.window_days, newest if days else -1, days)
    return detector.to_bytes()


def _fleet(
    seed: int, drift: bool, keys: int = 300
) -> tuple[list[bytes], dict[bytes, bytes], DaySums, _Events]:
    """Keys (some with long or non-ASCII names), their stored records, and a batch's run of each."""
    rng = random.Random(seed)
    names = [f"a\x1f{'token_drift' if drift else 'request_cost_anomaly'}\x1fcust-{k % 7}\x1f"
             + rng.choice(("bot", "agent-é", "x" * 40, "y" * 300)) + str(k) for k in range(keys)]  # fmt: skip
    stored: dict[bytes, bytes] = {}
    positions: list[int] = []
    partitions: list[int] = []
    rows: list[list[int]] = []
    for name in names:
        position = rng.randrange(-1, 10**6)
        if rng.random() < 0.85:
            state = _state(rng, name, drift) if rng.random() < 0.95 else b""
            episode = rng.choice((-1, -1, -1, 5))
            record = DetectorRecord(state, position, rng.randrange(8), rng.randrange(0, 2**40), episode)
            stored[name.encode()] = record.encode()
        first, last = len(positions), len(positions) + 1
        start = position + rng.choice((1, 1, 1, 0, -3))  # some replayed
        positions += [start, start + rng.randrange(1, 50)]
        partitions += [rng.randrange(8)] * 2
        count = rng.randrange(0, 200)
        day = rng.choice((DAY, DAY, DAY, DAY + 1, DAY - 1, -1)) if count else -1
        least = rng.choice((0, 1, 50, -1)) if drift else rng.choice((1, 10**6, -5))
        most = least + rng.choice((0, 10, 10**6, 10**12, 2**40))
        total = count * (least + most) // 2 if count else 0
        rows.append([day, count, total, most, least, DAY * 86_400 + rng.randrange(86_400), first, last])
    array = np.array(rows, np.int64).T.copy()
    sums = DaySums(*array.tolist(), array)
    return [name.encode() for name in names], stored, sums, _Events(positions, partitions)


def _quiet(
    keys: list[bytes],
    stored: dict[bytes, bytes],
    sums: DaySums,
    events: _Events,
    native: DayFold | None,
    drift: bool,
) -> tuple[list[int], dict[bytes, bytes], list[tuple[int, int, bytes]]]:
    new: Callable[[str], Detector]
    load: Callable[[bytes], Detector]
    if drift:
        new, load = (lambda key: TokenDrift(key, DRIFT)), (lambda raw: TokenDrift.from_bytes(raw, DRIFT))
    else:
        new = lambda key: RequestCostHistory(key, REQUESTS)  # noqa: E731
        load = lambda raw: RequestCostHistory.from_bytes(raw, REQUESTS)  # noqa: E731
    events = _Events(events.positions, events.partitions)
    records: dict[Any, Any] = {}
    fold = _Fold([], 0, records, _Lookup(stored), events, datetime(2026, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]
    left = fold.quiet(keys, sums, new, load, native)
    return left, {key: record.encode() for key, record in records.items()}, events.firsts


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("drift", [False, True], ids=["request_cost", "token_drift"])
def test_the_native_fold_writes_the_reference_s_bytes_for_every_key_it_folds(seed: int, drift: bool) -> None:
    keys, stored, sums, events = _fleet(seed, drift)
    native = token_drift_fold(DRIFT) if drift else request_cost_fold(REQUESTS)
    assert native is not None
    left, records, firsts = _quiet(keys, stored, sums, events, native, drift)
    want_left, want_records, want_firsts = _quiet(keys, stored, sums, events, None, drift)
    assert records == want_records
    assert left == want_left
    assert firsts == want_firsts
    assert len(records) > 30 and len(left) > 30  # both ways taken


def test_a_record_it_cannot_read_is_left_to_the_reference_which_starts_it_afresh() -> None:
    keys, stored, sums, events = _fleet(1, drift=False, keys=40)
    folded_before = _quiet(keys, stored, sums, events, request_cost_fold(REQUESTS), False)[1]
    broken = next(key for key in folded_before if key in stored)
    stored[broken] = DetectorRecord(b"\xc1 not a state", 0).encode()
    left, records, _ = _quiet(keys, stored, sums, events, request_cost_fold(REQUESTS), False)
    assert broken not in records and keys.index(broken) in left
    stored[broken] = b"[0, 0, 0]\n{}"  # an old JSON record the reference reads
    left, records, _ = _quiet(keys, stored, sums, events, request_cost_fold(REQUESTS), False)
    assert keys.index(broken) in left


def test_a_sum_past_64_bits_is_left_to_the_reference() -> None:
    key = b"a\x1frequest_cost_anomaly\x1facme\x1fbot"
    history = RequestCostHistory(key.decode(), REQUESTS)
    history._days = DayBuckets(30, DAY, {DAY: [2**64 - 10, 5]})
    stored = {key: DetectorRecord(history.to_bytes(), 3).encode()}
    array = np.array([[DAY], [2], [20], [10], [10], [DAY * 86_400], [0], [1]], np.int64)
    sums = DaySums(*array.tolist(), array)
    events = _Events([10, 11], [0, 0])
    left, records, _ = _quiet([key], stored, sums, events, request_cost_fold(REQUESTS), False)
    assert (left, records) == ([0], {})
    _, reference, _ = _quiet([key], stored, sums, events, None, False)
    assert reference[key] != stored[key]  # the reference folds it, writing JSON state


def test_settings_past_64_bits_keep_the_reference() -> None:
    assert request_cost_fold(RequestCostSettings(k=Decimal("2.0000000000000000000000001"))) is None


def test_a_record_made_natively_is_read_again_as_a_detector_record() -> None:
    keys, stored, sums, events = _fleet(2, drift=True, keys=50)
    records: dict[Any, Any] = {}
    fold = _Fold([], 0, records, _Lookup(stored), events, datetime(2026, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]
    fold.quiet(keys, sums, lambda k: TokenDrift(k, DRIFT), lambda r: TokenDrift.from_bytes(r, DRIFT),
               token_drift_fold(DRIFT))  # fmt: skip
    made = next(record for record in records.values() if isinstance(record, EncodedRecord))
    assert made.decoded().encode() == made.raw


async def test_spend_control_gives_the_recorded_alerts_and_records_with_the_reference_folds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    monkeypatch.setattr(anomaly_rules, "request_cost_fold", lambda settings: None)
    monkeypatch.setattr(anomaly_rules, "token_drift_fold", lambda settings: None)
    got = await run_golden()
    want = json.loads(FIXTURE.read_text())
    assert (got["batches"], got["table"]) == (want["batches"], want["table"])
