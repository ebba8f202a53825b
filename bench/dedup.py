"""The dedup index at scale: disk and memory per id, a partition's filter rebuild, the per-batch costs.

``ids`` ids counted over the last day are put in ``event_ids`` (random
UUIDs for 1,000 customers, all on one partition: the worst case for a
rebuild); then a restart's rebuild, a batch's hashing and probing, and a
batch's confirm query are timed.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from costline.clickhouse import open_async_client, open_client
from costline.config import Settings
from costline.migrations import migrate
from streams.dedup import DedupIndex, id_hashes
from streams.sinks.clickhouse_sink import ClickHouseSink

_FILL = """
INSERT INTO event_ids
SELECT
    concat('cust-', leftPad(toString(number % 1000), 4, '0')),
    toUInt64(bitShiftRight(toUInt128(generateUUIDv4(number)), 64)),
    toUInt64(toUInt128(generateUUIDv4(number))),
    '',
    now64(6) - toIntervalSecond(number % 86400),
    0,
    number,
    0,
    now64(3) - toIntervalMillisecond((number * 7919) % 86400000)
FROM numbers({ids:UInt64})
"""


async def dedup_bench(settings: Settings, ids: int) -> dict[str, Any]:
    ds = settings.model_copy(update={"clickhouse_database": "costline_bench_dedup"})
    migrate(ds, log=lambda _: None)
    client = open_client(ds)
    client.command("TRUNCATE TABLE event_ids")
    client.command(_FILL, parameters={"ids": ids})
    client.command("OPTIMIZE TABLE event_ids FINAL")
    rows, on_disk = client.query(
        "SELECT sum(rows), sum(bytes_on_disk) FROM system.parts "
        "WHERE database = currentDatabase() AND table = 'event_ids' AND active"
    ).result_rows[0]
    sample = [
        tuple(r) for r in client.query("SELECT customer_id, event_id FROM event_ids LIMIT 500").result_rows
    ]
    client.close()

    sink = ClickHouseSink(await open_async_client(ds))
    index = DedupIndex(86_400)
    rebuilds = []
    for _ in range(3):
        started = time.perf_counter()
        hashes, at = await sink.counted_id_hashes(0, index.clock() - index.horizon_s)
        ids_filter = index.install(0, hashes, at)
        rebuilds.append(time.perf_counter() - started)

    # A batch of 100k events: hash their ids, probe the filter, add them.
    pairs = [(f"cust-{n % 1000:04d}", f"new-{n}") for n in range(100_000)]
    started = time.perf_counter()
    batch = id_hashes(pairs)
    hashed = time.perf_counter() - started
    started = time.perf_counter()
    alarms = ids_filter.might_contain(batch)
    probed = time.perf_counter() - started
    started = time.perf_counter()
    ids_filter.add(batch)
    added = time.perf_counter() - started

    # The confirm query: 1,000 suspects, half of them counted.
    suspects = [*sample, *pairs[:500]]
    confirms = []
    for _ in range(10):
        started = time.perf_counter()
        found = await sink.counted_ids(suspects)
        confirms.append(time.perf_counter() - started)
    assert len(found) == len(sample)
    await sink.client.close()
    return {
        "dedup_ids": int(rows),
        "dedup_disk_bytes_per_id": on_disk / max(int(rows), 1),
        "dedup_filter_bytes_per_id": ids_filter.nbytes / max(len(ids_filter), 1),
        "dedup_filter_mb": ids_filter.nbytes / 1e6,
        "dedup_rebuild_s_median": statistics.median(rebuilds),
        "dedup_false_alarms": float(np.mean(alarms)),
        "dedup_hash_us_per_event": hashed / len(pairs) * 1e6,
        "dedup_probe_us_per_event": probed / len(pairs) * 1e6,
        "dedup_add_us_per_event": added / len(pairs) * 1e6,
        "dedup_confirm_1000_ms_median": statistics.median(confirms) * 1000,
    }
