"""Kafka message bytes to usage events.

A message holds one event (a JSON object) or, as the SDK sends them, a JSON
array of up to 65,536 events of one customer. Arrays spread Kafka's and
Faust's per-message cost over many events. Each event keeps its place in
the message (``index``), so a bad one is dead-lettered alone and the rest
are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from pydantic import TypeAdapter, ValidationError

from schemas.dead_letters import DeadLetterCode
from schemas.events import UsageEvent, parse_event
from streams.dead_letter import describe_validation_error

MAX_EVENTS_PER_MESSAGE = 1 << 16

_envelope: TypeAdapter[list[UsageEvent]] = TypeAdapter(list[UsageEvent])


@dataclass(frozen=True, slots=True)
class Decoded:
    index: int
    event: UsageEvent | None
    error: tuple[DeadLetterCode, str] | None = None  # (code, reason) when ``event`` is None
    raw: bytes = b""  # the event's own bytes where at hand, for a dead letter


def decode_message(raw: bytes) -> list[Decoded]:
    if not raw.lstrip().startswith(b"["):
        try:
            return [Decoded(0, parse_event(raw), raw=raw)]
        except ValidationError as exc:
            return [Decoded(0, None, describe_validation_error(exc), raw)]
    try:
        # The common case: every event valid, validated in one pass.
        events = _envelope.validate_json(raw)
        if len(events) <= MAX_EVENTS_PER_MESSAGE:
            return [Decoded(i, event) for i, event in enumerate(events)]
    except ValidationError:
        pass
    return _one_by_one(raw)


def _one_by_one(raw: bytes) -> list[Decoded]:
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return [Decoded(0, None, (DeadLetterCode.MALFORMED_JSON, f"not valid JSON: {exc}"), raw)]
    if len(items) > MAX_EVENTS_PER_MESSAGE:
        reason = f"a message holds at most {MAX_EVENTS_PER_MESSAGE:,} events, this one {len(items):,}"
        return [Decoded(0, None, (DeadLetterCode.INVALID_EVENT, reason), raw)]
    decoded = []
    for index, item in enumerate(items):
        item_raw = orjson.dumps(item)
        try:
            decoded.append(Decoded(index, parse_event(item_raw)))
        except ValidationError as exc:
            decoded.append(Decoded(index, None, describe_validation_error(exc), item_raw))
    return decoded
