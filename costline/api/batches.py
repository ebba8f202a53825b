"""A request body to usage events, and the result the API gives for each.

The body is read with the contract's strict JSON (:func:`schemas.events.load_json`:
duplicate keys refused, numbers as Decimal) and each event is validated with
the contract's adapter, so an event the worker would dead-letter as
``malformed_json`` or ``invalid_event`` is rejected here, with the reason its
dead letter would give (:func:`streams.dead_letter.describe_validation_error`),
and never reaches Kafka. What depends on the broker's time
(``out_of_bounds``) or on prices (``unpriceable``) is left to the worker's
dead-letter path: the API cannot know either when it answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError

from schemas.events import UsageEvent, load_json, usage_event_adapter
from streams.dead_letter import describe_validation_error

MAX_REASON_PART_CHARS = 200

# A batch is validated in one call, as the worker validates a message's array
# (streams.decoding): per event, pydantic's wrapper costs more than the check.
_whole_batch: TypeAdapter[list[UsageEvent]] = TypeAdapter(list[UsageEvent])
_validate_event = cast(Callable[[Any], UsageEvent], usage_event_adapter.validator.validate_python)


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # acknowledged by Kafka: it will be counted
    DUPLICATE = "duplicate"  # its event_id came earlier in the batch, or the Idempotency-Key before
    REJECTED = "rejected"  # not a usage event of the contract; nothing was sent


class BatchError(ValueError):
    """The body as a whole cannot be taken; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)  # not frozen: one is made per event, and frozen's __init__ costs 3 times more
class EventResult:
    index: int  # the event's place in the batch
    event_id: str | None  # as sent, where there is one
    outcome: Outcome
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"index": self.index, "event_id": self.event_id, "status": self.outcome}
        if self.reason is not None:
            shown["reason"] = self.reason
        return shown


@dataclass(frozen=True, slots=True)
class CheckedBatch:
    results: list[EventResult]
    accepted: list[UsageEvent]  # in batch order, one per ACCEPTED result
    # The same events as the client sent them (parsed JSON), for Kafka: the worker
    # validates them again, so their own form travels, not a second serialization.
    sent: list[Any]

    def counts(self) -> Counter[Outcome]:
        return Counter(result.outcome for result in self.results)


def read_batch(body: bytes, max_events: int) -> list[Any]:
    """The body's events, still unvalidated: one JSON object or an array of them."""
    try:
        document = load_json(body)
    except ValidationError as exc:
        detail = exc.errors(include_url=False)[0].get("ctx", {}).get("error", "invalid JSON")
        raise BatchError(400, f"the body is not valid JSON: {_cut(str(detail))}") from None
    items = document if isinstance(document, list) else [document]
    if not items:
        raise BatchError(400, "an empty array; send one event or an array of 1 or more events")
    if len(items) > max_events:
        raise BatchError(413, f"a batch holds at most {max_events:,} events, this one {len(items):,}")
    return items


def customers_of(items: list[Any]) -> set[str]:
    """Every customer_id the batch names, valid events or not."""
    return {
        item["customer_id"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("customer_id"), str)
    }


# Kinds only an operator may send: a correction moves money on past usage, so a
# tenant's ingest key sending one could lower its own bill (`costline reprice`
# publishes them straight to Kafka instead).
OPERATOR_KINDS = frozenset({"correction"})


def operator_kinds_in(items: list[Any]) -> set[str]:
    """The operator-only kinds the batch names, valid events or not."""
    return {item["kind"] for item in items if isinstance(item, dict) and item.get("kind") in OPERATOR_KINDS}


def check_events(items: list[Any]) -> CheckedBatch:
    """Each item validated; a repeat of an earlier (customer_id, event_id) is a duplicate."""
    try:
        valid: list[UsageEvent] | None = _whole_batch.validate_python(items)  # the common case
    except ValidationError:
        valid = None  # at least one is invalid: each on its own, for its own reason
    results: list[EventResult] = []
    accepted: list[UsageEvent] = []
    sent: list[Any] = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(items):
        try:
            event = valid[index] if valid is not None else _validate_event(item)
        except ValidationError as exc:
            sent_id = item.get("event_id") if isinstance(item, dict) else None
            event_id = sent_id if isinstance(sent_id, str) else None
            results.append(EventResult(index, event_id, Outcome.REJECTED, describe(exc)))
            continue
        identity = (event.customer_id, event.event_id)
        if identity in seen:
            results.append(EventResult(index, event.event_id, Outcome.DUPLICATE, "repeats an earlier event"))
            continue
        seen.add(identity)
        accepted.append(event)
        sent.append(item)
        results.append(EventResult(index, event.event_id, Outcome.ACCEPTED))
    return CheckedBatch(results, accepted, sent)


def replayed(results: list[EventResult]) -> list[EventResult]:
    """The results of a request repeated with its Idempotency-Key: what was accepted is now a duplicate."""
    return [
        EventResult(r.index, r.event_id, Outcome.DUPLICATE, "Idempotency-Key seen before")
        if r.outcome is Outcome.ACCEPTED
        else r
        for r in results
    ]


def describe(exc: ValidationError) -> str:
    """``where: what`` for the first few errors of an event, as its dead letter would say it."""
    return describe_validation_error(exc)[1]


def _cut(text: str, limit: int = MAX_REASON_PART_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
