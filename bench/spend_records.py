"""CPU per record of writing spend control's detector records after a batch, in one process.

Folds :mod:`bench.spend_cost`'s events (the default anomaly detectors), reads
back every detector record the table then holds, and times writing them all
(each encoded) as :meth:`TableSpend.put` one by one did against
:meth:`TableSpend.put_records`, into a store that knows each key's partition,
as the worker's does. Also times the header's encodings that write the same
bytes: orjson calling ``str`` back for each decimal (today's), the decimals
made strings first, msgspec. The last line is JSON.

    .venv/bin/python -m bench.spend_records [--events 200000] [--span-s 2]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import time
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from bench.spend_cost import counted_batches, run
from costline.config import Settings
from schemas.prices import load_price_dir
from streams.garbage_collection import tune_for_worker
from streams.pricing import PriceCatalog
from streams.spend_control import TableSpend
from streams.spend_state import ANOMALY_PREFIX, DetectorRecord, split_key


class _Store(dict[bytes, bytes]):
    def __init__(self) -> None:
        super().__init__()
        self._key_partition: dict[bytes, int] = {}


class _Table:
    def __init__(self) -> None:
        self.data = _Store()


def _one_by_one(records: TableSpend, batch: dict[bytes, DetectorRecord]) -> None:
    for key, record in batch.items():
        records.put(key, record.encode(), record.partition, record)


def _header(r: DetectorRecord) -> bytes:
    return orjson.dumps(
        [r.position, r.partition, r.last_seen, r.episode, r.hour, r.contributors], default=str
    )


def _header_strings(r: DetectorRecord) -> bytes:
    c = {k: dict(zip(v, map(str, v.values()), strict=True)) for k, v in r.contributors.items()}
    return orjson.dumps([r.position, r.partition, r.last_seen, r.episode, r.hour, c])


_MSGSPEC = msgspec.json.Encoder()


def _header_msgspec(r: DetectorRecord) -> bytes:
    return _MSGSPEC.encode([r.position, r.partition, r.last_seen, r.episode, r.hour, r.contributors])


def _best_ns(call: Callable[[], Any], count: int, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        started = time.process_time()
        call()
        best = min(best, time.process_time() - started)
    return best / count * 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--span-s", type=float, default=2.0)
    args = parser.parse_args(argv)
    settings = Settings()
    catalog = PriceCatalog(load_price_dir(settings.prices_dir))
    batches = counted_batches(args.events, args.span_s, 100, 1000, catalog)
    _, spend = run(importlib.import_module("streams"), settings, batches)
    batch = {
        key: DetectorRecord.decode(raw)
        for key, raw in spend.records.table.data.items()
        if split_key(key)[0] == ANOMALY_PREFIX
    }
    records = list(batch.values())
    assert all(_header_strings(r) == _header(r) == _header_msgspec(r) for r in records)
    tune_for_worker()
    n = len(batch)
    figures: dict[str, Any] = {"records": n, "with_contributors": sum(1 for r in records if r.contributors)}
    for name, call in (
        ("put_each_ns", lambda: _one_by_one(TableSpend(_Table()), batch)),
        ("put_records_ns", lambda: TableSpend(_Table()).put_records(batch)),
        ("header_orjson_default_ns", lambda: [_header(r) for r in records]),
        ("header_strings_first_ns", lambda: [_header_strings(r) for r in records]),
        ("header_msgspec_ns", lambda: [_header_msgspec(r) for r in records]),
    ):
        figures[name] = round(_best_ns(call, n))
    for name, value in figures.items():
        print(f"{name:26} {value}")
    print(orjson.dumps(figures).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
