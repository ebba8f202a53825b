"""The Faust application. Configuration only: topics and tables live in
:mod:`streams.topology`, the processing in :mod:`streams.agents`."""

from __future__ import annotations

import decimal
import socket

import faust
from faust.transport.producer import ProducerBuffer

from costline.config import get_settings
from costline.kafka_auth import faust_credentials
from streams.kafka_reads import read_large_frames_in_pieces
from streams.message_handover import hand_over_without_tasks

settings = get_settings()

# Window sums add Decimals at the context's precision; Python's default of 28
# digits would round a sum past 10^16 USD at 12 decimals. 38 is the columns'
# (Decimal(38, 12)), so every sum ClickHouse can hold is exact here too.
decimal.getcontext().prec = 38

# A batch changes up to four windows per event, each a changelog record;
# the default 100-record buffer would stall every batch in small flushes.
ProducerBuffer.max_messages = max(100, 8 * settings.batch_max)

# A fetch answers with ~10 MB in one frame; aiokafka's reader copies it over several times as its
# buffer grows (streams.kafka_reads). Reading it in pieces joined once cut the read's CPU by ~20 %.
read_large_frames_in_pieces()
# Faust waits on four tasks to hand over each message that almost never waits (streams.message_handover).
hand_over_without_tasks()


def _free_port(host: str) -> int:
    """A port the OS has free now: Faust refuses port 0, and workers side by side must not collide."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap}",
    # TLS and SASL as every other client has them (costline.kafka_auth); None for PLAINTEXT.
    broker_credentials=faust_credentials(settings),
    # Tables restore from their changelog topics on start; see README.
    store="memory://",
    table_standby_replicas=settings.table_standby_replicas,
    topic_partitions=settings.partitions,
    processing_guarantee="at_least_once",
    producer_acks=-1,
    producer_linger_ms=5,
    # A batch a partition goes in each produce request, one request in flight a broker: at aiokafka's
    # 16 KiB, a batch's ~20 MB of changelogs were ~1,150 requests one after another (6,312 for 500k
    # events; 70 at 1 MiB with streams.kafka_batches' rounds). Under the broker's default
    # message.max.bytes, as the SDK's publisher (costline/publisher.py) uses it.
    producer_max_batch_size=1024 * 1024,
    producer_compression_type=settings.kafka_compression.producer_setting,
    consumer_auto_offset_reset="earliest",
    broker_commit_interval=1.0,
    # A worker killed without leaving its group holds its partitions until
    # the session times out; keep that short so a restart resumes quickly.
    broker_session_timeout=settings.session_timeout_s,
    broker_heartbeat_interval=settings.session_timeout_s / 4,
    stream_buffer_maxsize=max(4 * settings.batch_max, 4096),
    broker_max_poll_records=max(settings.batch_max, 500),
    consumer_max_fetch_size=16 * 1024 * 1024,
    # /healthz, /readyz and /metrics (streams/web.py), on loopback unless configured
    # otherwise; the pages that would show or route to table contents stay off.
    web_enabled=True,
    web_bind=settings.web_host,
    web_host=settings.web_host,
    web_port=settings.web_port or _free_port(settings.web_host),
    web_router_enabled=False,
    web_tables_enabled=False,
    datadir=str(settings.worker_data_dir),
    autodiscover=False,
    TableManager="streams.table_manager:DeclaredTablesManager",
)
