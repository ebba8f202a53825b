"""Detector state is written as one MessagePack array, and read back exactly; the JSON that versions
before session 15 wrote (and that integers past 64 bits are still written as) is read as before."""

from __future__ import annotations

from typing import Any

import pytest

from streams.anomalies import (
    HourlySpend,
    HourlySpikeSettings,
    RequestCostHistory,
    RequestCostSettings,
    StateFormatError,
    TokenDrift,
    TokenDriftSettings,
)
from streams.anomalies.encoding import dump_state, is_json, pack
from tests.unit.streams.test_detector_shortcuts import traffic

Detector = HourlySpend | RequestCostHistory | TokenDrift


def as_json_before(detector: Detector) -> bytes:
    """How each detector's to_bytes wrote it until session 15."""
    if isinstance(detector, HourlySpend):
        return dump_state({"key": detector.key, "first_hour": detector.first_hour, "clock": detector.clock,
                           "hours": sorted(detector.hours.items()), "fired": sorted(detector.fired),
                           "minutes": sorted(detector.minutes.items())})  # fmt: skip
    days = detector._days.to_json()
    if isinstance(detector, RequestCostHistory):
        return dump_state({"key": detector.key, "days": days})
    return dump_state({"key": detector.key, "days": days, "fired": sorted(detector.fired_days)})


def fed(kind: str, seed: int, count: int = 3000) -> tuple[Detector, Any]:
    """A detector of ``kind`` after an agent's six weeks of traffic (fired hours and days among them)."""
    key = f"a\x1f{kind}\x1fcust-é\x1fagent-{seed}"
    detector: Detector
    if kind == "hourly":
        settings: Any = HourlySpikeSettings(floor=0 * HourlySpikeSettings().floor)
        detector, load = HourlySpend(key, settings), HourlySpend.from_bytes
    elif kind == "request":
        settings = RequestCostSettings(min_requests=5, min_days=1)
        detector, load = RequestCostHistory(key, settings), RequestCostHistory.from_bytes
    else:
        settings = TokenDriftSettings(min_recent_requests=5, min_baseline_days=2)
        detector, load = TokenDrift(key, settings), TokenDrift.from_bytes
    for when, amount in traffic(seed, count):
        detector.judge(when, amount if kind != "drift" else amount // 10**7)
    return detector, lambda raw: load(raw, settings)


KINDS = ["hourly", "request", "drift"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_state_reads_back_exactly_and_writes_the_same_bytes_again(kind: str, seed: int) -> None:
    detector, load = fed(kind, seed)
    raw = detector.to_bytes()
    again = load(raw)

    assert not is_json(raw)
    assert again.to_bytes() == raw
    assert as_json_before(again) == as_json_before(detector)
    if kind == "hourly":
        assert detector.fired  # the test feeds what fires, so fired hours are written too
        assert again.hours == detector.hours and again.minutes == detector.minutes


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [1, 2])
def test_state_written_as_json_before_session_15_reads_as_it_was(kind: str, seed: int) -> None:
    detector, load = fed(kind, seed)
    before = as_json_before(detector)
    again = load(before)

    assert as_json_before(again) == before
    assert as_json_before(load(again.to_bytes())) == before  # and written anew, as MessagePack


@pytest.mark.parametrize("kind", KINDS)
def test_an_integer_past_64_bits_is_written_as_json_and_read_back_exactly(kind: str) -> None:
    detector, load = fed(kind, 1, 200)
    if isinstance(detector, HourlySpend):
        detector.hours[min(detector.hours)] = 2**70
    else:
        day = min(detector._days.days)
        detector._days.days[day][0] = -(2**90)
    raw = detector.to_bytes()

    assert is_json(raw)
    assert raw == as_json_before(detector)
    assert as_json_before(load(raw)) == raw


@pytest.mark.parametrize("raw", [pack((3, "k")), pack((2, "k")), b"\x97", b""], ids=str)
def test_packed_state_of_another_version_or_shape_is_not_read(raw: bytes) -> None:
    with pytest.raises(StateFormatError):
        HourlySpend.from_bytes(raw)
