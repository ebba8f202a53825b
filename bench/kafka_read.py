"""CPU of reading the usage topic from Kafka, aiokafka as shipped against the worker's reads.

Publishes the benchmark fleet's messages (:func:`bench.workload.pack`, uncompressed
as :mod:`bench.run` publishes them) once to a topic of their own, then reads them
back from the start ``--rounds`` times a side, the sides alternating in one
process: a consumer with the worker's fetch settings (``streams/app.py``), its
``getmany`` until every message is read. Process CPU seconds (and minor page
faults) of the reads alone, connections made beforehand. Medians; ``same``:
both read the same (partition, offset, key, value, timestamp) records.
``--faust-rounds``: as many runs a side through a Faust agent as the worker's
(:mod:`bench.kafka_read_faust`, a process each; ``pieces`` the read alone, ``new``
also the hand-over of messages to the stream). ``--limit``: a third side,
aiokafka's reading with a 16 MiB ``READER_LIMIT``. The last line is JSON.

    .venv/bin/python -m bench.kafka_read [--events 1000000] [--events-per-message 100] [--rounds 5]
        [--faust-rounds 5] [--limit]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka import conn as aiokafka_conn
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import AIOKafkaConnection

from bench.workload import events, pack
from costline.config import get_settings
from costline.kafka_auth import client_security
from streams.kafka_reads import read_large_frames_in_pieces

FETCH_BYTES = 16 * 1024 * 1024  # the worker's consumer_max_fetch_size


@contextmanager
def stock() -> Iterator[None]:
    """aiokafka's own reading (this process's, as the bench leaves it between runs)."""
    yield


@contextmanager
def in_pieces() -> Iterator[None]:
    """The worker's reading, :func:`streams.kafka_reads.read_large_frames_in_pieces`."""
    kept = AIOKafkaConnection.__dict__["_read"]
    read_large_frames_in_pieces()
    try:
        yield
    finally:
        AIOKafkaConnection._read = kept  # type: ignore[method-assign]


@contextmanager
def reader_limit(limit: int = 16 * 1024 * 1024) -> Iterator[None]:
    """aiokafka's reading with a larger StreamReader limit: no pause and resume of the transport a piece."""
    kept = aiokafka_conn.READER_LIMIT
    aiokafka_conn.READER_LIMIT = limit
    try:
        yield
    finally:
        aiokafka_conn.READER_LIMIT = kept


async def fill(bootstrap: str, topic: str, partitions: int, messages: list[tuple[bytes, bytes]]) -> None:
    """Publishes ``messages`` to a new ``topic``; one already there is taken as filled by an earlier run."""
    security = client_security(get_settings())
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security)
    await admin.start()
    try:
        if topic in await admin.list_topics():
            return
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, **security, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        for key, value in messages:
            await producer.send(topic, value=value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, partitions: int, count: int) -> tuple[float, int, str]:
    """CPU seconds and minor faults of reading ``count`` messages from the start, and a digest of them."""
    settings = get_settings()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        **client_security(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max(settings.batch_max, 500),
        max_partition_fetch_bytes=FETCH_BYTES,
        fetch_max_wait_ms=1500,
    )
    await consumer.start()
    digest = hashlib.blake2b(digest_size=16)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        for tp in tps:
            await consumer.position(tp)
        gc.collect()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        started = time.process_time()
        seen = 0
        kept: list[tuple[int, int, bytes | None, bytes | None, int]] = []
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=settings.batch_max)
            for records in batches.values():
                seen += len(records)
                kept.extend([(r.partition, r.offset, r.key, r.value, r.timestamp) for r in records])
        spent = time.process_time() - started
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    finally:
        await consumer.stop()
    kept.sort(key=lambda record: record[:2])
    for partition, offset, key, value, timestamp in kept:
        digest.update(b"%d %d %d " % (partition, offset, timestamp))
        digest.update(b"%r %r" % (key, value))
    return spent, faults, digest.hexdigest()


def faust_run(side: str, topic: str, partitions: int, count: int) -> tuple[float, int, str]:
    """One :mod:`bench.kafka_read_faust` process's CPU seconds, minor faults and digest."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.kafka_read_faust", side, topic, str(partitions), str(count)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    found = re.search(r'\{"cpu_s".*\}', done.stdout + done.stderr)
    if found is None:
        raise RuntimeError(f"bench.kafka_read_faust {side} said nothing:\n{done.stderr[-2000:]}")
    figures = orjson.loads(found.group())
    return figures["cpu_s"], figures["faults"], figures["digest"]


def alternate(
    rounds: int, runs: Mapping[str, Callable[[], tuple[float, int, str]]], label: str
) -> dict[str, dict[str, Any]]:
    """Each side's runs, the order turned every round; medians, and whether all read the same."""
    spent: dict[str, list[float]] = {name: [] for name in runs}
    faults: dict[str, list[int]] = {name: [] for name in runs}
    digests: set[str] = set()
    for round_ in range(rounds):
        for name in list(runs)[:: 1 if round_ % 2 == 0 else -1]:
            cpu, minflt, digest = runs[name]()
            spent[name].append(cpu)
            faults[name].append(minflt)
            digests.add(digest)
            print(f"{label} round {round_} {name}: {cpu:.3f} s CPU, {minflt:,} minor faults", flush=True)
    return {
        name: {
            "cpu_s": statistics.median(spent[name]),
            "cpu_s_min": min(spent[name]),
            "minor_faults": statistics.median(faults[name]),
            "same": len(digests) == 1,
        }
        for name in runs
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--events-per-message", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--faust-rounds", type=int, default=0, help="runs a side through a Faust agent")
    parser.add_argument("--limit", action="store_true", help="also aiokafka's reading with a 16 MiB limit")
    args = parser.parse_args()
    bootstrap = get_settings().kafka_bootstrap
    messages = pack(events(args.events), args.events_per_message)
    topic = f"bench-kafka-read-{args.events}-{args.events_per_message}-{args.partitions}"
    asyncio.run(fill(bootstrap, topic, args.partitions, messages))
    wire = sum(len(k) + len(v) for k, v in messages)
    print(f"{topic}: {len(messages):,} messages, {wire / 1e6:.0f} MB", flush=True)
    sides: dict[str, Callable[[], AbstractContextManager[None]]] = {"old": stock, "new": in_pieces}
    if args.limit:
        sides["limit"] = reader_limit

    def consumer_run(side: Callable[[], AbstractContextManager[None]]) -> tuple[float, int, str]:
        with side():
            return asyncio.run(read_all(bootstrap, topic, args.partitions, len(messages)))

    result: dict[str, Any] = {"events": args.events, "messages": len(messages), "mb": wire / 1e6}
    consumer = alternate(
        args.rounds, {name: partial(consumer_run, side) for name, side in sides.items()}, "consumer"
    )
    result["consumer"] = consumer
    if args.faust_rounds:
        faust_sides = ("old", "pieces", "new")
        runs = {name: partial(faust_run, name, topic, args.partitions, len(messages)) for name in faust_sides}
        result["faust"] = alternate(args.faust_rounds, runs, "faust")
    for path in ("consumer", "faust"):
        for name, figures in result.get(path, {}).items():
            print(f"{path} {name}: {figures['cpu_s']:.3f} s CPU (median, min {figures['cpu_s_min']:.3f}), "
                  f"{figures['cpu_s'] * 1e6 / args.events:.2f} s per 1M events, "
                  f"{figures['minor_faults']:,.0f} faults, same {figures['same']}")  # fmt: skip
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
