"""CPU per window of worker state's writes and expiry: ``streams/window_state.py`` against a base's.

``python -m bench.window_expiry [--base REV] [--events N] [--batch B] [--rounds R]``
folds the benchmark's live fleet (:mod:`bench.workload`, 10 s of traffic)
``--batch`` events at a time, each batch's events a partition of eight, then
times, for each ``TableState``, in one process (no broker: a dict store and
a producer that takes each changelog batch):

- ``put``: :meth:`TableState.put_many` of every batch's windows, with their
  encoded keys (as the processor hands them over), and the changelog's flush;
- ``reindex``: the expiry index rebuilt from the store (after a rebalance);
- ``expire``: every window expired at a watermark past all their retention.

Each figure is the best of ``--rounds``, base and this tree alternating, per
window. The changelog each sends is compared, record for record. The last line is JSON.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from types import ModuleType, SimpleNamespace
from typing import Any

import orjson

from bench import priced_workload as priced
from costline.config import Settings
from streams import window_state
from streams.aggregation import WindowAggregate, WindowKey, fold

_STAGES = ("put", "reindex", "expire")


def main(argv: list[str] | None = None) -> int:
    parser = priced.stage_arguments(__doc__)
    parser.add_argument("--base", default="main", help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    settings = Settings()
    catalog = priced.catalog(settings)
    usage = priced.decoded_usage(args.events)
    counted = priced.counted(usage, catalog, partitions=8)
    batches = [
        dict(fold(counted[first : first + args.batch], (60, 3600), {}).changed)
        for first in range(0, len(counted), args.batch)
    ]
    windows = sum(map(len, batches))  # put, a batch's each
    stored = len({key for changed in batches for key in changed})  # reindexed and expired
    ways = {"base": _base(args.base), "new": window_state}
    best = {f"{way}_{stage}": float("inf") for way in ways for stage in _STAGES}
    for _ in range(args.rounds):
        sent = {}
        for way, module in ways.items():
            seconds, sent[way] = asyncio.run(_run(module, batches))
            for stage, value in zip(_STAGES, seconds, strict=True):
                best[f"{way}_{stage}"] = min(best[f"{way}_{stage}"], value)
        assert sent["base"] == sent["new"], "the changelogs differ"
    figures: dict[str, Any] = {
        "base": args.base,
        "events": len(counted),
        "windows": windows,
        "stored": stored,
    }
    for stage in _STAGES:
        per = windows if stage == "put" else stored
        old, new = best[f"base_{stage}"] / per * 1e6, best[f"new_{stage}"] / per * 1e6
        figures |= {f"base_{stage}_us_per_window": round(old, 3), f"new_{stage}_us_per_window": round(new, 3)}
        print(f"{stage:>8}: {old:6.2f} -> {new:6.2f} µs a window ({old / new:.2f}x)")
    print(orjson.dumps(figures).decode())
    return 0


def _base(rev: str) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{rev}:streams/window_state.py"], capture_output=True, text=True, check=True
    ).stdout
    module = ModuleType("_base_window_state")
    sys.modules[module.__name__] = module
    exec(compile(source, f"{rev}:streams/window_state.py", "exec"), module.__dict__)
    return module


class _Table:
    """A Faust table's parts that worker state touches: a dict store, a producer keeping each batch."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.sent: list[tuple[int, list[tuple[bytes, bytes | None]]]] = []
        self.app = SimpleNamespace(producer=SimpleNamespace(_ensure_producer=lambda: self))
        self.changelog_topic = SimpleNamespace(get_topic_name=lambda: "cost-windows-changelog")

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> None:
        self.sent.append((partition, batch.records))


class _Batch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes | None]] = []

    def append(self, *, key: bytes, value: bytes | None, timestamp: None) -> bool:
        self.records.append((key, value))
        return True


async def _run(
    module: ModuleType, batches: list[dict[WindowKey, WindowAggregate]]
) -> tuple[list[float], list[Any]]:
    table = _Table()
    state = module.TableState(table, {60: 600, 3600: 0})
    encoded = [[key.encode() for key in windows] for windows in batches]
    started = time.process_time()
    for windows, raw_keys in zip(batches, encoded, strict=True):
        state.put_many(windows, raw_keys)
        await state.flush()
    put = time.process_time() - started
    state.forget_index()
    started = time.process_time()
    state._reindex()
    reindex = time.process_time() - started
    highest = max(key.end for windows in batches for key in windows) + 601
    for partition in range(8):
        state.set_watermark(partition, highest)
    started = time.process_time()
    dropped = await state.expire(range(8))
    expire = time.process_time() - started
    assert dropped == len({key for windows in batches for key in windows})
    return [put, reindex, expire], table.sent


if __name__ == "__main__":
    raise SystemExit(main())
