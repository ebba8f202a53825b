"""Closing a test or benchmark pipeline leaves nothing behind on the services: not its database, not
its topics (a benchmark's runs would otherwise fill the local broker's disk); a worker stopped leaves
no error behind either."""

from __future__ import annotations

import asyncio
import signal

from aiokafka.admin import AIOKafkaAdminClient

from costline.clickhouse import open_client
from costline.config import Settings
from costline.dev.harness import Pipeline
from costline.kafka import is_app_topic
from costline.kafka_auth import client_security
from tests.factories import event


def _app_topics(settings: Settings) -> list[str]:
    async def run() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **client_security(settings))
        await admin.start()
        try:
            return [t for t in await admin.list_topics() if is_app_topic(settings, t)]
        finally:
            await admin.close()

    return asyncio.run(run())


def test_a_closed_pipeline_drops_its_topics_and_database(services: Settings) -> None:
    p = Pipeline.create(services, "close")
    assert p.settings.usage_topic in _app_topics(p.settings)
    p.close()
    assert _app_topics(p.settings) == []
    client = open_client(services, database="")
    database = {"name": p.settings.clickhouse_database}
    exists = client.command("EXISTS DATABASE {name:Identifier}", parameters=database)
    assert not exists
    client.close()


def test_keep_data_keeps_them(services: Settings) -> None:
    p = Pipeline.create(services, "keep")
    p.close(keep_data=True)
    assert p.settings.usage_topic in _app_topics(p.settings)
    Pipeline(p.settings).close()
    assert _app_topics(p.settings) == []


def test_a_worker_stopped_after_its_batches_logs_no_error(pipeline: Pipeline) -> None:
    pipeline.publish([event("stop-1"), event("stop-2")])
    pipeline.wait_for("SELECT count() FROM ledger FINAL", 2)
    pipeline.kill_worker(signal.SIGTERM)
    log = pipeline.worker_log()
    assert "Closing event loop" in log  # it stopped as asked, to the end
    assert "[ERROR]" not in log  # its ClickHouse clients among what it closed
