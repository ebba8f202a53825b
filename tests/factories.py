"""Factories the unit tests share: a processor on fakes, raw events, batches of messages."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from schemas.dead_letters import DeadLetter
from schemas.prices import load_price_dir
from streams.aggregation import AGGREGATE_FIELDS, WindowAggregate
from streams.dedup import DedupIndex
from streams.pricing import PriceCatalog
from streams.processor import BatchProcessor, RawMessage
from tests.fakes import DictState, FakeSink

PRICES = Path(__file__).resolve().parents[1] / "prices"


def processor(sink: FakeSink, state: DictState, letters: list[DeadLetter]) -> BatchProcessor:
    async def send(letter: DeadLetter) -> None:
        letters.append(letter)

    return BatchProcessor(
        catalog=PriceCatalog(load_price_dir(PRICES)),
        sink=sink,
        state=state,
        dedup=DedupIndex(86_400, clock=sink.clock),
        window_sizes=(60, 3600),
        retention={60: 600, 3600: 7200},
        send_dead_letter=send,
    )


def sms(event_id: str, at: str = "2026-11-20T09:00:00Z", calls: int = 1) -> bytes:
    return orjson.dumps(
        {
            "kind": "tool",
            "tool": "twilio-sms",
            "calls": calls,
            "event_id": event_id,
            "customer_id": "acme",
            "agent_id": "bot",
            "occurred_at": at,
        }
    )


def batch(values: list[bytes], first_offset: int = 0, partition: int = 0) -> list[RawMessage]:
    return [RawMessage("usage", partition, first_offset + i, b"acme", v) for i, v in enumerate(values)]


def hour_total(sink: FakeSink) -> tuple[Any, int]:
    agg = next(v for k, v in sink.windows.items() if k.agent_id == "*" and k.size == 3600)
    return agg.cost, agg.events


def window_with_every_field(first: int = 1000) -> WindowAggregate:
    """Each field a different value, none its default: a field a derivation leaves out shows."""
    values: dict[str, Any] = {
        name: Decimal(f"{i}.00000000000{i % 10}") if kind is Decimal else first + i
        for i, (name, kind) in enumerate(AGGREGATE_FIELDS.items())
    }
    return WindowAggregate(**values)
