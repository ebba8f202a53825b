"""The demo stops what it started, last first, however it ends; with --keep-running, nothing. Its
topics are its own."""

from __future__ import annotations

from functools import partial

import pytest

from costline.config import Settings
from costline.dev.demo import demo_settings, stopped_at_exit
from costline.kafka import is_app_topic


def test_the_demo_stops_what_it_started_last_first() -> None:
    stopped: list[str] = []
    with stopped_at_exit(keep_running=False) as started:
        for name in ("services", "the worker", "the API"):
            started.append((name, partial(stopped.append, name)))
    assert stopped == ["the API", "the worker", "services"]


def test_a_demo_that_fails_half_way_stops_what_it_had_started() -> None:
    stopped: list[str] = []
    with pytest.raises(TimeoutError), stopped_at_exit(keep_running=False) as started:
        started.append(("the worker", lambda: stopped.append("the worker")))
        raise TimeoutError("only 12 of 2438 events reached ClickHouse")
    assert stopped == ["the worker"]


def test_keep_running_leaves_everything_up() -> None:
    stopped: list[str] = []
    with stopped_at_exit(keep_running=True) as started:
        started.append(("the API", lambda: stopped.append("the API")))
    assert stopped == []


def test_every_topic_of_the_demo_is_its_own() -> None:
    """A demo worker reads no real budgets and posts no alerts where a real receiver listens; its
    reset deletes every one of them."""
    real = Settings()
    demo = demo_settings(real)
    topics = {name: getattr(demo, name) for name in Settings.model_fields if name.endswith("_topic")}
    assert len(topics) == 6
    for name, topic in topics.items():
        assert is_app_topic(demo, topic), name
        assert topic != getattr(real, name), name
