"""CPU time of ``streams.wire_columns.decode_batch``: the Python decoder against the native one.

``python -m bench.wire_decoders [--events N] [--messages M] [--runs R]`` packs the bench's events
(:mod:`bench.workload`) 100 a message, keeps the first M messages as one batch, and times both
decoders on it alternately (``time.process_time``), R runs each. Prints the medians and best runs,
and as its last line JSON with milliseconds per batch.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable

import numpy as np

from bench.workload import events, pack
from streams import wire_columns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=12)
    args = parser.parse_args(argv)
    native = wire_columns._load_native()
    if native is None:
        print("streams._wire_scan is not built: nothing to compare")
        return 1
    pairs = pack(events(args.events), 100)[: args.messages]
    values, keys = [v for _, v in pairs], [k for k, _ in pairs]
    n = sum(v.count(b'"event_id"') for v in values)
    bounds = (np.zeros(len(values), np.int64), np.full(len(values), 2**62, np.int64))

    def python() -> object:
        return wire_columns.decode_batch_python(values, keys, bounds)

    def rust() -> object:
        return wire_columns._decode_native(native, values, keys, bounds)

    decoders: dict[str, Callable[[], object]] = {"python": python, "native": rust}
    times: dict[str, list[float]] = {name: [] for name in decoders}
    for run in range(args.runs):
        for name in decoders if run % 2 == 0 else reversed(decoders):
            gc.collect()
            started = time.process_time()
            decoders[name]()
            times[name].append(time.process_time() - started)
    result: dict[str, float] = {"messages": len(values), "events": n}
    for name, spent in times.items():
        median, best = statistics.median(spent) * 1000, min(spent) * 1000
        per_event = median * 1000 / n
        print(f"{name:>7}: median {median:.1f} ms, best {best:.1f} ms a batch ({per_event:.2f} µs/event)")
        result[f"{name}_ms"] = round(median, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
