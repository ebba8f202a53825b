"""A realistic, reproducible day of agent usage for the demo and tests.

Two customers, three agents, every event kind, and events on both sides of
the noon price change in ``prices/2026-11-20-midday.json``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.events import (
    Compute,
    Embedding,
    HumanReview,
    LlmCall,
    Outcome,
    Storage,
    ToolCall,
    UsageEvent,
    VectorQuery,
)

DAY = datetime(2026, 11, 20, tzinfo=UTC)
CUSTOMERS = {
    "acme-corp": ("support-bot", "research-agent"),
    "globex": ("research-agent", "invoice-extractor"),
}


def sample_day(tasks_per_agent: int = 120, seed: int = 7, day: datetime = DAY) -> list[UsageEvent]:
    """Events of one day, ordered by time within each customer."""
    rng = random.Random(seed)
    events: list[UsageEvent] = []
    for customer, agents in CUSTOMERS.items():
        for agent in agents:
            for n in range(tasks_per_agent):
                start = day + timedelta(seconds=rng.randrange(0, 86_400 - 600))
                events.extend(_task(rng, customer, agent, f"{customer}-{agent}-{n}", start))
        # Infrastructure billed per customer, once an hour.
        for hour in range(24):
            at = day + timedelta(hours=hour, minutes=59)
            events.append(
                Compute(
                    kind="compute",
                    event_id=f"{customer}-compute-{hour}",
                    occurred_at=at,
                    customer_id=customer,
                    agent_id=agents[0],
                    sku="fargate-1vcpu-2gb",
                    seconds=Decimal(3600),
                )
            )
            events.append(
                Storage(
                    kind="storage",
                    event_id=f"{customer}-storage-{hour}",
                    occurred_at=at,
                    customer_id=customer,
                    agent_id=agents[0],
                    sku="s3-standard",
                    bytes=rng.randrange(5, 50) * 10**9,
                    seconds=Decimal(3600),
                )
            )
    events.sort(key=lambda e: (e.customer_id, e.occurred_at, e.event_id))
    return events


@dataclass
class _Task:
    """One agent task: its events share the task's fields and follow each other by a few seconds."""

    rng: random.Random
    task_id: str
    at: datetime
    fields: dict[str, Any]
    steps: int = 0

    def next_step(self) -> dict[str, Any]:
        """The next event's id and time, with the task's fields."""
        self.steps += 1
        self.at += timedelta(seconds=self.rng.randrange(1, 20))
        return {"event_id": f"{self.task_id}-{self.steps}", "occurred_at": self.at, **self.fields}


# Every draw from ``rng`` below happens in the order it always has: the same
# seed gives the same day, which the demo's figures and the tests rely on.
def _task(rng: random.Random, customer: str, agent: str, task: str, start: datetime) -> Iterator[UsageEvent]:
    fields = {
        "customer_id": customer,
        "agent_id": agent,
        "task_id": task,
        "user_id": f"user-{rng.randrange(40)}",
    }
    steps = _Task(rng, task, start, fields)
    if agent == "research-agent":
        yield from _research(steps)
    yield from _llm_calls(steps, agent, _model(rng, agent))
    succeeded = rng.random() < 0.85
    if not succeeded:
        yield HumanReview(
            kind="human_review",
            **steps.next_step(),
            sku="support-agent",
            minutes=Decimal(rng.randrange(2, 15)),
        )
    if agent == "support-bot":
        yield ToolCall(kind="tool", **steps.next_step(), tool="twilio-sms", calls=1)
    yield _outcome(steps, agent, succeeded)


def _research(steps: _Task) -> Iterator[UsageEvent]:
    """What a research agent does before it asks a model: embed, search its index, search the web."""
    rng = steps.rng
    yield Embedding(
        kind="embedding",
        **steps.next_step(),
        model="text-embedding-3-small",
        tokens=rng.randrange(200, 2_000),
    )
    yield VectorQuery(
        kind="vector_query", **steps.next_step(), provider="pinecone", queries=rng.randrange(1, 5)
    )
    yield ToolCall(
        kind="tool",
        **steps.next_step(),
        tool=rng.choice(["perplexity-search", "tavily-search"]),
        calls=rng.randrange(1, 4),
    )


def _model(rng: random.Random, agent: str) -> str:
    if agent == "research-agent":
        return rng.choice(["gpt-4o", "claude-sonnet-4", "gemini-1.5-pro"])
    if agent == "support-bot":
        return rng.choice(["gpt-4o-mini", "claude-3-5-haiku", "gpt-4o"])
    return rng.choice(["gpt-4o", "gpt-4o-mini"])


def _llm_calls(steps: _Task, agent: str, model: str) -> Iterator[UsageEvent]:
    rng = steps.rng
    for _ in range(rng.randrange(1, 4)):
        input_tokens = rng.randrange(1_000, 12_000)
        output_tokens = rng.randrange(100, 1_500)
        yield LlmCall(
            kind="llm",
            **steps.next_step(),
            provider=_provider(model),
            model=model,
            input_tokens=input_tokens,
            cached_input_tokens=rng.randrange(0, input_tokens // 2),
            output_tokens=output_tokens,
            reasoning_tokens=rng.randrange(0, output_tokens // 3) if model == "gpt-4o" else 0,
            batch=agent == "invoice-extractor" and rng.random() < 0.3,
        )


def _outcome(steps: _Task, agent: str, succeeded: bool) -> Outcome:
    """How the task ended: a resolved ticket, an extracted invoice (with its value) or a report."""
    if agent == "support-bot":
        return Outcome(kind="outcome", **steps.next_step(), outcome_type="ticket_resolved", success=succeeded)
    if agent == "invoice-extractor":
        return Outcome(
            kind="outcome",
            **steps.next_step(),
            outcome_type="invoice_extracted",
            value=Decimal(steps.rng.randrange(100, 50_000)) / 100,
            success=succeeded,
        )
    return Outcome(kind="outcome", **steps.next_step(), outcome_type="report_delivered", success=succeeded)


def _provider(model: str) -> str:
    if model.startswith("claude"):
        return "anthropic"
    if model.startswith("gemini"):
        return "google"
    return "openai"
