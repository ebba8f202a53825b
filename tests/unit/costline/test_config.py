"""Settings: defaults that other files must agree with."""

from __future__ import annotations

import re
from pathlib import Path

from costline.config import KAFKA_VERSION, Settings
from costline.dev.servers.kafka_broker import KafkaBroker

COMPOSE = (Path(__file__).resolve().parents[3] / "docker-compose.yml").read_text()


def test_the_kafka_version_is_set_once_and_docker_compose_runs_it() -> None:
    assert Settings.model_fields["kafka_version"].default == KAFKA_VERSION
    assert KafkaBroker(Path("."), 1, 2).version == KAFKA_VERSION
    assert re.findall(r"image: apache/kafka:(\S+)", COMPOSE) == [KAFKA_VERSION]
