"""Decode cost per event: the strict path the worker runs against pydantic's own JSON parser.

``python -m bench.decode [--events N] [--per-message M]`` prints a table and,
as its last line, JSON with microseconds per event for:

- ``strict``: :func:`streams.decoding.decode_message`, strict JSON (jiter,
  duplicate keys refused, numbers as Decimal) then validation, plus the
  occurred_at bounds against the message's broker time;
- ``validate_json``: pydantic parsing and validating the same bytes in one
  pass, as the worker did before JSON was strict (no duplicate-key check).

Events are the benchmark's synthetic fleet (:mod:`bench.workload`), packed
into arrays as the SDK sends them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import orjson
from pydantic import TypeAdapter

from bench.workload import DAY, events, pack
from schemas.events import UsageEvent, usage_event_adapter
from streams.decoding import TimeBounds, decode_message

_lax: TypeAdapter[list[UsageEvent]] = TypeAdapter(list[UsageEvent])


def _validate_json(value: bytes) -> object:
    if value.startswith(b"["):
        return _lax.validate_json(value)
    return usage_event_adapter.validate_json(value)


def _per_event_us(run: Callable[[bytes], object], messages: list[bytes], n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for value in messages:
            run(value)
        best = min(best, time.perf_counter() - started)
    return best / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--per-message", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5, help="the best round counts")
    args = parser.parse_args(argv)

    messages = [value for _, value in pack(events(args.events), args.per_message)]
    received_ms = int((DAY.timestamp() + 86_400) * 1000)
    bounds = TimeBounds(max_age_s=35 * 86_400, max_future_s=300)
    assert sum(len(decode_message(m, received_ms, bounds)) for m in messages) == args.events
    assert all(d.event is not None for m in messages[:10] for d in decode_message(m, received_ms, bounds))

    results = {
        "strict": _per_event_us(
            lambda m: decode_message(m, received_ms, bounds), messages, args.events, args.rounds
        ),
        "validate_json": _per_event_us(_validate_json, messages, args.events, args.rounds),
    }
    for name, us in results.items():
        print(f"{name:<14} {us:6.2f} µs/event")
    print(
        orjson.dumps(
            {
                "events": args.events,
                "per_message": args.per_message,
                **{f"{k}_us_per_event": round(v, 2) for k, v in results.items()},
                "strict_over_validate_json": round(results["strict"] / results["validate_json"], 2),
            }
        ).decode()
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
