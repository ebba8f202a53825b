"""A synthetic fleet: many customers and agents, zipf-skewed, every event kind."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson

from costline.event_id import new_event_id
from schemas.events import parse_event
from streams.pricing import PriceCatalog

DAY = datetime(2026, 11, 20, tzinfo=UTC)
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "claude-3-5-haiku", "gemini-1.5-pro"]
TOOLS = ["perplexity-search", "tavily-search", "stripe-lookup", "twilio-sms"]
KINDS = (
    ["llm"] * 55
    + ["tool"] * 15
    + ["embedding"] * 8
    + ["vector_query"] * 8
    + ["outcome"] * 8
    + [
        "compute",
        "compute",
        "storage",
        "storage",
        "human_review",
        "human_review",
    ]
)


def _zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1 / (k**s) for k in range(1, n + 1)]


def events(
    n: int,
    customers: int = 1000,
    agents: int = 50,
    seed: int = 1,
    span_s: float = 86_400,
    start: datetime = DAY,
) -> Iterator[tuple[bytes, bytes]]:
    """``n`` (key, JSON value) pairs in event-time order over ``span_s`` seconds from ``start``.

    Event ids are the SDK's (UUIDv7 of the event's time), from a source of
    their own so the rest of the workload is what it was with ids
    ``bench-{seed}-{i}``.
    """
    rng = random.Random(seed)
    id_rng = random.Random(f"event-ids-{seed}")
    customer_ids = [f"cust-{i:04d}" for i in range(customers)]
    agent_ids = [f"agent-{i:02d}" for i in range(agents)]
    picked_customers = rng.choices(customer_ids, _zipf_weights(customers), k=n)
    picked_agents = rng.choices(agent_ids, _zipf_weights(agents), k=n)
    kinds = rng.choices(KINDS, k=n)
    step = span_s / max(n, 1)
    for i in range(n):
        at = start + timedelta(seconds=i * step)
        event: dict[str, object] = {
            "event_id": new_event_id(at, id_rng),
            "occurred_at": at.isoformat(),
            "customer_id": picked_customers[i],
            "agent_id": picked_agents[i],
            "kind": kinds[i],
        }
        event.update(_fields(rng, kinds[i]))
        yield picked_customers[i].encode(), orjson.dumps(event)


def _fields(rng: random.Random, kind: str) -> dict[str, object]:
    if kind == "llm":
        model = rng.choice(MODELS)
        inp = rng.randrange(500, 20_000)
        return {
            "provider": "anthropic" if model.startswith("claude") else "openai",
            "model": model,
            "input_tokens": inp,
            "cached_input_tokens": rng.randrange(0, inp // 2),
            "output_tokens": rng.randrange(50, 2_000),
        }
    if kind == "tool":
        return {"tool": rng.choice(TOOLS), "calls": rng.randrange(1, 4)}
    if kind == "embedding":
        return {"model": "text-embedding-3-small", "tokens": rng.randrange(100, 4_000)}
    if kind == "vector_query":
        return {"provider": "pinecone", "queries": rng.randrange(1, 6)}
    if kind == "compute":
        return {"sku": "fargate-1vcpu-2gb", "seconds": str(rng.randrange(1, 600))}
    if kind == "storage":
        return {"sku": "s3-standard", "bytes": rng.randrange(1, 50) * 10**9, "seconds": "3600"}
    if kind == "human_review":
        return {"sku": "support-agent", "minutes": str(rng.randrange(1, 20))}
    return {"outcome_type": "ticket_resolved", "success": rng.random() < 0.9}


def pack(pairs: Iterable[tuple[bytes, bytes]], max_events: int) -> list[tuple[bytes, bytes]]:
    """Group each customer's events into JSON-array messages, as the SDK does."""
    if max_events <= 1:
        return list(pairs)
    messages: list[tuple[bytes, bytes]] = []
    pending: dict[bytes, list[bytes]] = {}
    for key, value in pairs:
        batch = pending.setdefault(key, [])
        batch.append(value)
        if len(batch) >= max_events:
            messages.append((key, b"[" + b",".join(pending.pop(key)) + b"]"))
    messages.extend((key, b"[" + b",".join(batch) + b"]") for key, batch in pending.items())
    return messages


def expected_total(pairs: list[tuple[bytes, bytes]], catalog: PriceCatalog) -> Decimal:
    """What the published events cost, priced here without the pipeline."""
    return sum((catalog.price(parse_event(value)).cost for _, value in pairs), Decimal(0))
