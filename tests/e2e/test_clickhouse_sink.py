"""Window snapshots written by the sink read back whole from the real, migrated ``cost_windows``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from costline.clickhouse import open_async_client
from costline.config import Settings
from costline.dev.harness import Pipeline
from streams.aggregation import WindowAggregate, WindowKey
from streams.sinks.clickhouse_sink import WINDOW_COLUMNS, ClickHouseSink
from tests.factories import window_with_every_field


@pytest.fixture(scope="module")
def migrated(services: Settings) -> Iterator[Pipeline]:
    p = Pipeline.create(services, "sink", partitions=1)
    yield p
    p.close()


def test_the_migrated_table_has_every_window_column(migrated: Pipeline) -> None:
    described = {row[0] for row in migrated.db.query("DESCRIBE TABLE cost_windows").result_rows}
    assert set(WINDOW_COLUMNS) <= described


def test_a_snapshot_reads_back_as_the_newest_version_written(migrated: Pipeline) -> None:
    windows = {
        WindowKey("acme", "bot", "llm", 60, 1_763_632_800): window_with_every_field(1000),
        WindowKey("acme", "*", "llm", 3600, 1_763_632_800): window_with_every_field(2000),
    }
    older = {key: WindowAggregate(events=1, last_offset=5, partition=0) for key in windows}
    missing = WindowKey("acme", "bot", "llm", 60, 0)

    async def write_and_load() -> dict[WindowKey, WindowAggregate]:
        sink = ClickHouseSink(await open_async_client(migrated.settings))
        await sink.write((), older)
        await sink.write((), windows)
        return await sink.load_windows([*windows, missing])

    assert asyncio.run(write_and_load()) == windows
