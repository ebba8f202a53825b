"""Settings: defaults that other files must agree with."""

from __future__ import annotations

import re
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from costline.config import KAFKA_VERSION, KafkaCompression, Settings
from costline.dev.servers.kafka_broker import KafkaBroker

COMPOSE = (Path(__file__).resolve().parents[3] / "docker-compose.yml").read_text()


def test_the_kafka_version_is_set_once_and_docker_compose_runs_it() -> None:
    assert Settings.model_fields["kafka_version"].default == KAFKA_VERSION
    assert KafkaBroker(Path("."), 1, 2).version == KAFKA_VERSION
    assert re.findall(r"image: apache/kafka:(\S+)", COMPOSE) == [KAFKA_VERSION]


def test_every_compression_a_worker_may_be_set_to_has_its_codec_installed() -> None:
    # aiokafka's producer refuses at start a codec whose library is missing (cramjam, pinned for it).
    for codec in KafkaCompression:
        setting = codec.producer_setting
        if setting is None:
            continue
        installed, code = AIOKafkaProducer._COMPRESSORS[setting]
        assert installed(), codec
        builder = DefaultRecordBatchBuilder(
            magic=2, compression_type=code, is_transactional=False,
            producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 20,
        )  # fmt: skip
        builder.append(0, timestamp=None, key=b"k", value=b"v" * 1000, headers=[])
        assert len(builder.build()) < 1000, codec


def test_a_worker_compresses_with_snappy_unless_told_otherwise() -> None:
    assert Settings().kafka_compression.producer_setting == "snappy"
    assert Settings(kafka_compression="none").kafka_compression.producer_setting is None


def test_a_worker_keeps_no_standby_copy_of_another_workers_tables_unless_told() -> None:
    from streams.app import app

    assert Settings().table_standby_replicas == 0
    assert app.conf.table_standby_replicas == 0
    assert Settings(table_standby_replicas=1).table_standby_replicas == 1
