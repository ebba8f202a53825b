"""A realistic, reproducible day of agent usage for the demo and tests.

Two customers, three agents, every event kind, and events on both sides of
the noon price change in ``prices/2026-11-20-midday.json``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
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


def _task(rng: random.Random, customer: str, agent: str, task: str, start: datetime) -> Iterator[UsageEvent]:
    common: dict[str, Any] = {
        "customer_id": customer,
        "agent_id": agent,
        "task_id": task,
        "user_id": f"user-{rng.randrange(40)}",
    }
    at = start
    step = 0

    def next_id() -> str:
        nonlocal step, at
        step += 1
        at += timedelta(seconds=rng.randrange(1, 20))
        return f"{task}-{step}"

    if agent == "research-agent":
        yield Embedding(
            kind="embedding",
            event_id=next_id(),
            occurred_at=at,
            model="text-embedding-3-small",
            tokens=rng.randrange(200, 2_000),
            **common,
        )
        yield VectorQuery(
            kind="vector_query",
            event_id=next_id(),
            occurred_at=at,
            provider="pinecone",
            queries=rng.randrange(1, 5),
            **common,
        )
        yield ToolCall(
            kind="tool",
            event_id=next_id(),
            occurred_at=at,
            tool=rng.choice(["perplexity-search", "tavily-search"]),
            calls=rng.randrange(1, 4),
            **common,
        )
        model = rng.choice(["gpt-4o", "claude-sonnet-4", "gemini-1.5-pro"])
    elif agent == "support-bot":
        model = rng.choice(["gpt-4o-mini", "claude-3-5-haiku", "gpt-4o"])
    else:
        model = rng.choice(["gpt-4o", "gpt-4o-mini"])
    for _ in range(rng.randrange(1, 4)):
        input_tokens = rng.randrange(1_000, 12_000)
        output_tokens = rng.randrange(100, 1_500)
        yield LlmCall(
            kind="llm",
            event_id=next_id(),
            occurred_at=at,
            provider=_provider(model),
            model=model,
            input_tokens=input_tokens,
            cached_input_tokens=rng.randrange(0, input_tokens // 2),
            output_tokens=output_tokens,
            reasoning_tokens=rng.randrange(0, output_tokens // 3) if model == "gpt-4o" else 0,
            batch=agent == "invoice-extractor" and rng.random() < 0.3,
            **common,
        )
    succeeded = rng.random() < 0.85
    if not succeeded:
        yield HumanReview(
            kind="human_review",
            event_id=next_id(),
            occurred_at=at,
            sku="support-agent",
            minutes=Decimal(rng.randrange(2, 15)),
            **common,
        )
    if agent == "support-bot":
        yield ToolCall(kind="tool", event_id=next_id(), occurred_at=at, tool="twilio-sms", calls=1, **common)
        yield Outcome(
            kind="outcome",
            event_id=next_id(),
            occurred_at=at,
            outcome_type="ticket_resolved",
            success=succeeded,
            **common,
        )
    elif agent == "invoice-extractor":
        yield Outcome(
            kind="outcome",
            event_id=next_id(),
            occurred_at=at,
            outcome_type="invoice_extracted",
            value=Decimal(rng.randrange(100, 50_000)) / 100,
            success=succeeded,
            **common,
        )
    else:
        yield Outcome(
            kind="outcome",
            event_id=next_id(),
            occurred_at=at,
            outcome_type="report_delivered",
            success=succeeded,
            **common,
        )


def _provider(model: str) -> str:
    if model.startswith("claude"):
        return "anthropic"
    if model.startswith("gemini"):
        return "google"
    return "openai"
