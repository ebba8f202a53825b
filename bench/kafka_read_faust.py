"""One side of :mod:`bench.kafka_read`'s Faust runs, in a process of its own (a Faust app runs once).

A Faust app with the worker's consumer settings (``streams/app.py``) and an
agent taking the topic's messages as the worker's does (``take_events``, each
event's message to a :class:`streams.processor.RawMessage`), until ``count``
are taken. Prints one JSON object: process CPU seconds from the agent's start to
its last message, minor page faults, and a digest of the messages; then exits.

``pieces``: reading as the worker reads (:mod:`streams.kafka_reads`); ``new``: also handing
messages over as the worker does (:mod:`streams.message_handover`); ``old``: Faust's and aiokafka's own.

    .venv/bin/python -m bench.kafka_read_faust {old,pieces,new} TOPIC PARTITIONS COUNT
"""

from __future__ import annotations

import hashlib
import os
import resource
import sys
import time
import uuid
from typing import Any, cast

import faust
import orjson

from costline.config import get_settings
from costline.kafka_auth import faust_credentials
from streams.kafka_reads import read_large_frames_in_pieces
from streams.message_handover import hand_over_without_tasks
from streams.processor import RawMessage


def main() -> None:
    side, topic_name, partitions, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if side in ("pieces", "new"):
        read_large_frames_in_pieces()
    if side == "new":
        hand_over_without_tasks()
    settings = get_settings()
    app = faust.App(
        f"bench-kafka-read-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings),
        store="memory://",
        topic_partitions=partitions,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        stream_buffer_maxsize=max(4 * settings.batch_max, 4096),
        broker_max_poll_records=max(settings.batch_max, 500),
        consumer_max_fetch_size=16 * 1024 * 1024,
        web_enabled=False,
        datadir=f"/tmp/bench-kafka-read-{os.getpid()}",
        autodiscover=False,
    )
    topic = app.topic(
        topic_name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )

    @app.agent(topic)
    async def take(stream: Any) -> None:
        taken: list[RawMessage] = []
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        started = time.process_time()
        async for events in cast(Any, stream).take_events(settings.batch_max, within=settings.batch_within_s):
            taken.extend(RawMessage.of(e.message) for e in events)
            if len(taken) >= count:
                break
        spent = time.process_time() - started
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        digest = hashlib.blake2b(digest_size=16)
        for message in sorted(taken, key=lambda m: (m.partition, m.offset)):
            digest.update(b"%d %d %d %r %r " % (message.partition, message.offset, message.timestamp_ms or 0,
                                                 message.key, message.value))  # fmt: skip
        print(
            orjson.dumps({"cpu_s": spent, "faults": faults, "digest": digest.hexdigest()}).decode(),
            flush=True,
        )
        os._exit(0)  # the run is over; leaving the group cleanly would only cost time

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()


if __name__ == "__main__":
    main()
