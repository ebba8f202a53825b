"""A run's topics are the ones named after its app id: what closing a test pipeline or resetting
the demo deletes, and nothing of another run's or of a real worker's."""

from __future__ import annotations

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
