"""The local Kafka broker and ClickHouse server, as configured by settings."""

from __future__ import annotations

from streams.services.clickhouse_server import ClickHouseServer
from streams.services.kafka_broker import KafkaBroker
from streams.settings import Settings


def kafka_broker(settings: Settings) -> KafkaBroker:
    return KafkaBroker(
        home=settings.home.resolve(),
        port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        version=settings.kafka_version,
    )


def clickhouse_server(settings: Settings) -> ClickHouseServer:
    return ClickHouseServer(home=settings.home.resolve(), port=settings.clickhouse_port)


def up(settings: Settings) -> None:
    broker = kafka_broker(settings)
    broker.install()
    broker.start()
    clickhouse_server(settings).start()


def down(settings: Settings) -> None:
    clickhouse_server(settings).stop()
    kafka_broker(settings).stop()


def status(settings: Settings) -> dict[str, str]:
    return {
        "kafka": kafka_broker(settings).status(),
        "clickhouse": clickhouse_server(settings).status(),
    }
