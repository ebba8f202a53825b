"""The local Kafka broker's and ClickHouse server's processes, for CPU accounting."""

from __future__ import annotations

from costline.config import Settings
from costline.dev import local_servers


def service_pids(settings: Settings) -> dict[str, list[int]]:
    found = {
        "kafka": local_servers.kafka_broker(settings).pid(),
        "clickhouse": local_servers.clickhouse_server(settings).pid(),
    }
    return {role: [pid] for role, pid in found.items() if pid is not None}
