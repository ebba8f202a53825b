"""End-to-end fixtures: the real local Kafka broker and ClickHouse server.

``make test`` starts both before pytest; if they are not running, the first
test starts them (and ``make down`` stops them). Nothing here is skipped
when a service is missing: a test that needs Kafka fails without it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from costline.config import Settings, get_settings
from costline.dev import local_servers
from costline.dev.harness import Pipeline


@pytest.fixture(scope="session")
def services() -> Settings:
    settings = get_settings()
    local_servers.up(settings)
    return settings


@pytest.fixture(scope="module")
def pipeline(services: Settings, request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    p = Pipeline.create(services, request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))
    p.load_prices()
    p.start_worker()
    yield p
    p.close()
