"""What an hourly spike detector's record costs as its history grows: bytes, encode and decode.

The e2e bench's events span seconds of event time, so every hourly detector
it writes holds an hour or two. A detector keeps ``weeks`` weeks of hours
(:mod:`streams.anomalies.hourly_spike`), and the worker writes a key's whole
record (store and changelog) every batch that touches the key. This builds
``--keys`` records holding 0 to ``weeks`` weeks of hourly spend, as a key
active every hour leaves them, and times writing them (``DetectorRecord.encode``,
its detector's state with it) and reading them back from bytes (the record,
then its detector: a restore, or a record not kept decoded). The last line is JSON.

    .venv/bin/python -m bench.hourly_history [--keys 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from streams.anomalies.hourly_spike import HOURS_PER_WEEK, HourlySpend, HourlySpikeSettings
from streams.spend_state import DetectorRecord

FIRST_HOUR = 490_000  # 2025-11-23, as epoch hours


def records(keys: int, hours: int, seed: int = 1) -> list[DetectorRecord]:
    """``keys`` agents' records after ``hours`` hours of spend each (the hour in progress the last)."""
    rng = random.Random(seed)
    made: list[DetectorRecord] = []
    settings = HourlySpikeSettings()
    for k in range(keys):
        spend = HourlySpend(f"a\x1fhourly_spike\x1fcust-{k % 300:04d}\x1fagent-{k:05d}", settings)
        last = FIRST_HOUR + max(hours, 1) - 1
        spend.first_hour = FIRST_HOUR
        spend.hours = {FIRST_HOUR + h: rng.randrange(10**9, 10**12) for h in range(max(hours, 1))}
        spend.minutes = {last * 60 + m: rng.randrange(10**8, 10**10) for m in range(15)}
        spend.clock = last * 3600 + 900
        models = {"gpt-4o": Decimal("0.0091"), "claude-sonnet": Decimal("0.0032")}
        contributors = {"agent": {f"agent-{k:05d}": Decimal("0.012345")}, "model": models}
        record = DetectorRecord(b"", k, k % 8, spend.clock, -1, last * 3600, contributors)
        record.detector = spend
        made.append(record)
    return made


def _timed(work: Callable[[], Any], count: int, rounds: int) -> float:
    """Median µs per item of ``work`` over ``rounds``."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) / count * 1e6)
    return statistics.median(times)


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = HourlySpikeSettings()
    figures: dict[str, Any] = {"keys": args.keys, "rounds": args.rounds}
    print(f"{'history':>10} {'bytes':>7} {'encode µs':>10} {'decode µs':>10} {'+ state µs':>11}")
    for weeks in (0, 1, 2, 4):
        hours = weeks * HOURS_PER_WEEK
        made = records(args.keys, hours)
        raws = [record.encode() for record in made]
        size = statistics.mean(map(len, raws))
        encode = _timed(lambda: [record.encode() for record in made], len(made), args.rounds)  # noqa: B023
        decode = _timed(lambda: [DetectorRecord.decode(raw) for raw in raws], len(raws), args.rounds)  # noqa: B023
        states = [DetectorRecord.decode(raw).state for raw in raws]
        load = _timed(lambda: [HourlySpend.from_bytes(s, settings) for s in states], len(states), args.rounds)  # noqa: B023
        label = f"{weeks} weeks" if weeks else "one hour"
        print(f"{label:>10} {size:>7.0f} {encode:>10.1f} {decode:>10.1f} {decode + load:>11.1f}")
        figures[f"w{weeks}_bytes"] = round(size)
        figures[f"w{weeks}_encode_us"] = round(encode, 2)
        figures[f"w{weeks}_read_us"] = round(decode + load, 2)
    print(json.dumps(figures, separators=(",", ":")))


if __name__ == "__main__":
    main()
