"""The local Kafka broker and ClickHouse server, as configured by settings."""

from __future__ import annotations

from costline.config import Settings
from costline.dev.servers.clickhouse_server import ClickHouseServer
from costline.dev.servers.kafka_broker import KafkaBroker


def kafka_broker(settings: Settings) -> KafkaBroker:
    return KafkaBroker(
        home=settings.home.resolve(),
        port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        version=settings.kafka_version,
    )


def clickhouse_server(settings: Settings) -> ClickHouseServer:
    return ClickHouseServer(home=settings.home.resolve(), port=settings.clickhouse_port)


def up(settings: Settings) -> list[str]:
    """Start whatever is not running yet; returns the names of what was started."""
    started = []
    broker = kafka_broker(settings)
    if not broker.is_running():
        broker.install()
        started.append("kafka")
    broker.start()  # idempotent: also waits for a broker that is still starting
    server = clickhouse_server(settings)
    if not server.is_running():
        started.append("clickhouse")
    server.start()
    return started


def down(settings: Settings, names: tuple[str, ...] = ("clickhouse", "kafka")) -> None:
    if "clickhouse" in names:
        clickhouse_server(settings).stop()
    if "kafka" in names:
        kafka_broker(settings).stop()


def status(settings: Settings) -> dict[str, str]:
    return {
        "kafka": kafka_broker(settings).status(),
        "clickhouse": clickhouse_server(settings).status(),
    }
