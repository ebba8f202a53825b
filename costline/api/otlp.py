"""OpenTelemetry GenAI spans to ``llm`` usage events: the mapping, pure (no protobuf, no I/O).

A span is a billable model call when it carries GenAI usage (any of
:data:`TOKEN_ATTRIBUTES`); any other span is ignored and counted. Its
event is ``otel:<trace_id>:<span_id>`` (hex), at the span's end time, so
a span sent again (a Collector's retry) is counted once by the worker.

Token rule. The semantic conventions say ``gen_ai.usage.input_tokens``
SHOULD include cached tokens, as our contract's ``input_tokens`` does; some
instrumentations report only the uncached part (Anthropic's API does).
Where cache read + cache write exceed the input, the input evidently left
them out, and they are added to it; likewise reasoning tokens to the output.
An input that left them out but still exceeds them cannot be told apart,
and is taken as the conventions say.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from costline.api.batches import describe
from costline.config import Settings
from schemas.events import LlmCall

AttributeValue = str | bool | int | float

# Each token field of the contract, from its attribute, then the older name.
TOKEN_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
    "cached_input_tokens": ("gen_ai.usage.cache_read.input_tokens",),
    "cache_write_tokens": ("gen_ai.usage.cache_creation.input_tokens",),
    "reasoning_tokens": ("gen_ai.usage.reasoning.output_tokens",),
}
PROVIDER_ATTRIBUTES = ("gen_ai.provider.name", "gen_ai.system")
MODEL_ATTRIBUTES = ("gen_ai.response.model", "gen_ai.request.model")
REQUEST_ID_ATTRIBUTES = ("gen_ai.response.id",)
EVENT_ID_PREFIX = "otel"
MAX_REASONS_SHOWN = 5

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SpanOutcome(StrEnum):
    ACCEPTED = "accepted"  # an llm event, acknowledged by Kafka
    IGNORED = "ignored"  # no GenAI usage: not a model call to bill
    DUPLICATE = "duplicate"  # the same span came earlier in the request
    REJECTED = "rejected"  # usage that cannot become a valid event of this key's customer


class SpanRejected(ValueError):
    """The span has usage but cannot be billed; the message says why."""


@dataclass(frozen=True, slots=True)
class OtlpSpan:
    """What the mapping reads of a span: ids, end time, its own and its resource's attributes."""

    trace_id: bytes
    span_id: bytes
    end_time_unix_nano: int
    attributes: Mapping[str, AttributeValue]
    resource: Mapping[str, AttributeValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AttributeMapping:
    """Which attributes give an event's ids: the first name present, on the span, then its resource."""

    # The defaults are Settings' (costline/config.py, otlp_*_attributes).
    customer: tuple[str, ...]
    agent: tuple[str, ...]
    user: tuple[str, ...]
    task: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> AttributeMapping:
        return cls(
            customer=settings.otlp_customer_attributes,
            agent=settings.otlp_agent_attributes,
            user=settings.otlp_user_attributes,
            task=settings.otlp_task_attributes,
        )


@dataclass(frozen=True, slots=True)
class MappedSpans:
    events: list[LlmCall]
    counts: Counter[SpanOutcome]
    reasons: list[str]  # one per rejected span: "<event id or span>: why"

    @property
    def rejected(self) -> int:
        return self.counts[SpanOutcome.REJECTED]

    def message(self) -> str:
        """OTLP's partial-success ``error_message``: what was rejected, and what was ignored."""
        parts = []
        if self.reasons:
            shown = "; ".join(self.reasons[:MAX_REASONS_SHOWN])
            more = len(self.reasons) - MAX_REASONS_SHOWN
            tail = f" (+{more} more)" if more > 0 else ""
            parts.append(f"{self.rejected} span(s) rejected: {shown}{tail}")
        if ignored := self.counts[SpanOutcome.IGNORED]:
            parts.append(f"{ignored} span(s) without GenAI usage ignored")
        return ". ".join(parts)


def event_id_of(trace_id: bytes, span_id: bytes) -> str:
    """``otel:<trace_id>:<span_id>`` in lower-case hex; OTLP's invalid (empty, zero) ids are refused."""
    if len(trace_id) != 16 or not any(trace_id):
        raise SpanRejected("the trace id is not 16 bytes, or is all zero")
    if len(span_id) != 8 or not any(span_id):
        raise SpanRejected("the span id is not 8 bytes, or is all zero")
    return f"{EVENT_ID_PREFIX}:{trace_id.hex()}:{span_id.hex()}"


def map_spans(spans: Iterable[OtlpSpan], mapping: AttributeMapping, key_customer: str | None) -> MappedSpans:
    """Every span's outcome; a customer-bound key's spans must name its customer."""
    events: list[LlmCall] = []
    counts: Counter[SpanOutcome] = Counter()
    reasons: list[str] = []
    seen: set[str] = set()
    for index, span in enumerate(spans):
        try:
            event = to_event(span, mapping)
            if event is not None and key_customer is not None and event.customer_id != key_customer:
                raise SpanRejected(
                    f"customer {event.customer_id!r} is not this key's customer ({key_customer!r})"
                )
        except SpanRejected as exc:
            counts[SpanOutcome.REJECTED] += 1
            reasons.append(f"{_name_of(span, index)}: {exc}")
            continue
        if event is None:
            counts[SpanOutcome.IGNORED] += 1
        elif event.event_id in seen:
            counts[SpanOutcome.DUPLICATE] += 1
        else:
            seen.add(event.event_id)
            events.append(event)
            counts[SpanOutcome.ACCEPTED] += 1
    return MappedSpans(events, counts, reasons)


def to_event(span: OtlpSpan, mapping: AttributeMapping) -> LlmCall | None:
    """The span's llm event, None without usage; raises SpanRejected when it cannot be one."""
    tokens = usage_of(span)
    if tokens is None:
        return None
    fields: dict[str, Any] = {
        "kind": "llm",
        "event_id": event_id_of(span.trace_id, span.span_id),
        "occurred_at": _end_time(span.end_time_unix_nano),
        "customer_id": _required(span, mapping.customer, "customer"),
        "agent_id": _required(span, mapping.agent, "agent"),
        "user_id": _text(span, mapping.user),
        "task_id": _text(span, mapping.task),
        "request_id": _text(span, REQUEST_ID_ATTRIBUTES),
        "provider": _required(span, PROVIDER_ATTRIBUTES, "provider"),
        "model": _required(span, MODEL_ATTRIBUTES, "model"),
        **tokens,
    }
    try:
        return LlmCall.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise SpanRejected(describe(exc)) from None


def usage_of(span: OtlpSpan) -> dict[str, int] | None:
    """The contract's token fields from the span's own attributes, None when it reports no usage."""
    tokens: dict[str, int] = {}
    for name, attributes in TOKEN_ATTRIBUTES.items():
        for attribute in attributes:
            if attribute in span.attributes:
                tokens[name] = _count(attribute, span.attributes[attribute])
                break
    if not tokens:
        return None
    tokens.setdefault("input_tokens", 0)
    tokens.setdefault("output_tokens", 0)
    cache_parts = tokens.get("cached_input_tokens", 0) + tokens.get("cache_write_tokens", 0)
    if cache_parts > tokens["input_tokens"]:  # an input that left the cache out (module docstring)
        tokens["input_tokens"] += cache_parts
    if tokens.get("reasoning_tokens", 0) > tokens["output_tokens"]:
        tokens["output_tokens"] += tokens["reasoning_tokens"]
    return tokens


def _count(attribute: str, value: AttributeValue) -> int:
    # SDKs in languages with one number type (JavaScript) may send 1000 as a double.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise SpanRejected(f"{attribute}: a whole number of tokens, not {value!r}")


def _text(span: OtlpSpan, names: tuple[str, ...]) -> str | None:
    for name in names:
        for attributes in (span.attributes, span.resource):
            value = attributes.get(name)
            if value is None:
                continue
            if isinstance(value, str):
                return value
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)
            raise SpanRejected(f"{name}: a string, not {value!r}")
    return None


def _required(span: OtlpSpan, names: tuple[str, ...], what: str) -> str:
    value = _text(span, names)
    if value is None:
        raise SpanRejected(f"no {what}: set {' or '.join(names)} on the span or its resource")
    return value


def _end_time(unix_nano: int) -> datetime:
    if unix_nano <= 0:
        raise SpanRejected("the span has no end time")
    try:
        return _EPOCH + timedelta(microseconds=unix_nano // 1000)
    except OverflowError:
        raise SpanRejected("the span's end time is out of range") from None


def _name_of(span: OtlpSpan, index: int) -> str:
    try:
        return event_id_of(span.trace_id, span.span_id)
    except SpanRejected:
        return f"span {index}"
