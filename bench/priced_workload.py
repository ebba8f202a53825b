"""The bench workload decoded and priced in process: what the stage benchmarks after pricing start from.

Ten seconds of the workload's events, 100 a message as the SDK sends them, decoded as the worker decodes
them; an event the contract refuses (none is generated) is left out rather than priced.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from bench.workload import events, pack
from costline.config import Settings
from schemas.events import UsageEvent
from schemas.prices import load_price_dir
from streams.aggregation import Counted, position
from streams.decoding import decode_message
from streams.pricing import PriceCatalog


def stage_arguments(doc: str) -> argparse.ArgumentParser:
    """A stage benchmark's parser: its first line of ``doc``, and how many events in what batches."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000, help="events a worker batch")
    return parser


def catalog(settings: Settings) -> PriceCatalog:
    return PriceCatalog(load_price_dir(settings.prices_dir))


def decoded_usage(count: int) -> list[UsageEvent]:
    messages = [value for _, value in pack(events(count, span_s=10.0), 100)]
    return [item.event for value in messages for item in decode_message(value) if item.event is not None]


def counted(usage: Sequence[UsageEvent], catalog: PriceCatalog, partitions: int = 1) -> list[Counted]:
    """Each event priced at its own position, dealt round the partitions as the topic's messages are."""
    return [(i % partitions, position(i, 0), catalog.price(event)) for i, event in enumerate(usage)]
