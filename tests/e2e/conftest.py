"""End-to-end fixtures: the real local Kafka broker and ClickHouse server.

``make test`` starts both before pytest; if they are not running, the first
test starts them (and ``make down`` stops them). Nothing here is skipped
when a service is missing: a test that needs Kafka fails without it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams import local_services
from streams.harness import Pipeline
from streams.settings import Settings, get_settings


@pytest.fixture(scope="session")
def services() -> Settings:
    settings = get_settings()
    local_services.up(settings)
    return settings


@pytest.fixture(scope="module")
def pipeline(services: Settings, request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    p = Pipeline.create(services, request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))
    p.load_prices()
    p.start_worker()
    yield p
    p.close()
