"""The Faust application. Configuration only: topics and tables live in
:mod:`streams.topology`, the processing in :mod:`streams.agents`."""

from __future__ import annotations

import faust

from streams.settings import get_settings

settings = get_settings()

app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap}",
    # Tables restore from their changelog topics on start; see README.
    store="memory://",
    topic_partitions=settings.partitions,
    processing_guarantee="at_least_once",
    producer_acks=-1,
    producer_linger_ms=5,
    consumer_auto_offset_reset="earliest",
    broker_commit_interval=1.0,
    stream_buffer_maxsize=max(4 * settings.batch_max, 4096),
    web_enabled=False,
    datadir=str(settings.worker_data_dir),
    autodiscover=False,
)
