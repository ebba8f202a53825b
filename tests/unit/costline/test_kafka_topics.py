"""A run's topics are the ones named after its app id: what closing a test pipeline or resetting
the demo deletes, and nothing of another run's or of a real worker's. Creating topics: one that
exists already, listed or not, has its config aligned; a refusal is one clear error."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from costline import kafka
from costline.config import Settings
from costline.kafka import changelog_topic, is_app_topic


def test_a_runs_own_topics_and_faust_ones_are_its_app_topics() -> None:
    run = Settings(app_id="costline-test-day-1a2b3c4d")
    assert is_app_topic(run, "costline-test-day-1a2b3c4d.usage")
    assert is_app_topic(run, changelog_topic(run))
    assert is_app_topic(run, "costline-test-day-1a2b3c4d-__assignor-__leader")


def test_another_runs_or_a_real_workers_topics_are_not() -> None:
    run = Settings(app_id="costline-test-day-1a2b3c4d")
    assert not is_app_topic(run, "costline-test-day-1a2b3c4d0.usage")  # a longer app id
    assert not is_app_topic(run, "costline.usage")
    assert not is_app_topic(run, "costline-test-day-1a2b3c4d")


class _Broker:
    """An admin client's fake: topics that exist, of which the metadata lists only ``listed``."""

    def __init__(self, exists: set[str], listed: set[str], refused: dict[str, str] | None = None) -> None:
        self.exists, self.listed, self.refused = exists, listed, refused or {}
        self.aligned: list[str] = []

    def client(self, **_: Any) -> _Broker:
        return self

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def list_topics(self) -> list[str]:
        return sorted(self.listed)

    async def create_topics(self, topics: list[Any]) -> Any:
        def error(name: str) -> tuple[str, int, str | None]:
            if name in self.refused:
                return (name, 40, self.refused[name])  # INVALID_CONFIG
            return (name, 36, "Topic already exists.") if name in self.exists else (name, 0, None)

        return SimpleNamespace(topic_errors=[error(t.name) for t in topics])

    async def align(self, _: Any, topic: str, wanted: Any) -> bool:
        self.aligned.append(topic)
        return True


def test_a_changelog_the_metadata_did_not_list_yet_still_gets_the_new_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(app_id="costline-test-oldcl-1a2b3c4d")
    broker = _Broker(exists={changelog_topic(settings)}, listed=set())  # created a moment ago
    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", broker.client)
    monkeypatch.setattr(kafka, "align_topic_config", broker.align)
    asyncio.run(kafka.ensure_topics(settings))
    assert broker.aligned == [changelog_topic(settings)]


def test_a_topic_the_broker_refuses_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    broker = _Broker(exists=set(), listed=set(), refused={settings.usage_topic: "Invalid partitions"})
    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", broker.client)
    with pytest.raises(
        RuntimeError, match=r"creating topic 'costline.usage' failed: Invalid partitions \(code 40\)"
    ):
        asyncio.run(kafka.ensure_topics(settings))
