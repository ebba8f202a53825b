"""The sample day: the same seed gives the same day, every kind of event, tasks in time order."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from itertools import pairwise

from costline.dev.sample_day import DAY, sample_day
from schemas.events import UsageEvent


def by_task(events: list[UsageEvent]) -> dict[str, list[UsageEvent]]:
    tasks: dict[str, list[UsageEvent]] = defaultdict(list)
    for event in events:
        if event.task_id is not None:
            tasks[event.task_id].append(event)
    return tasks


def test_the_same_seed_gives_the_same_day_and_another_seed_another() -> None:
    assert sample_day(tasks_per_agent=10, seed=7) == sample_day(tasks_per_agent=10, seed=7)
    assert sample_day(tasks_per_agent=10, seed=7) != sample_day(tasks_per_agent=10, seed=8)


def test_every_kind_happens_on_both_sides_of_the_noon_price_change() -> None:
    events = sample_day(tasks_per_agent=60)
    noon = DAY + timedelta(hours=12)

    kinds = {"llm", "embedding", "vector_query", "tool", "human_review", "outcome", "compute", "storage"}
    assert {e.kind for e in events if e.occurred_at < noon} == kinds
    assert {e.kind for e in events if e.occurred_at >= noon} == kinds
    assert all(DAY <= e.occurred_at < DAY + timedelta(days=1) for e in events)


def test_a_tasks_events_follow_each_other_and_end_with_its_outcome() -> None:
    for task, events in by_task(sample_day(tasks_per_agent=20)).items():
        assert [e.event_id for e in events] == [f"{task}-{n}" for n in range(1, len(events) + 1)]
        assert all(a.occurred_at < b.occurred_at for a, b in pairwise(events))
        assert events[-1].kind == "outcome"


def test_a_research_task_embeds_searches_its_index_and_the_web_before_asking_a_model() -> None:
    research = [
        t for t in by_task(sample_day(tasks_per_agent=20)).values() if t[0].agent_id == "research-agent"
    ]

    assert research
    assert all(
        [e.kind for e in task[:4]] == ["embedding", "vector_query", "tool", "llm"] for task in research
    )
