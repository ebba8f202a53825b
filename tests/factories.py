"""Factories the tests share: usage events (as sent, as bytes, as models), a processor on fakes, batches."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from costline.api.otlp import OtlpSpan
from costline.cli import build_parser
from costline.config import Settings
from schemas.dead_letters import DeadLetter
from schemas.events import UsageEvent, usage_event_adapter
from schemas.money import from_pico
from schemas.prices import PriceVersion, load_price_dir
from streams.aggregation import AGGREGATE_FIELDS, PICO_FIELDS, WindowAggregate
from streams.dedup import DedupIndex
from streams.pricing import PriceCatalog
from streams.processor import BatchProcessor, RawMessage
from tests.fakes import DictState, FakeSink

PRICES = Path(__file__).resolve().parents[1] / "prices"
DAY = datetime(2026, 11, 20, tzinfo=UTC)  # the sample day: list prices change at noon
NINE_AM = DAY.replace(hour=9)
# What an event of a kind carries unless a test says otherwise (prices/ has them all).
TYPICAL: dict[str, dict[str, Any]] = {
    "tool": {"tool": "twilio-sms", "calls": 1},  # $0.008 a call
    "llm": {"provider": "openai", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100},
}


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


def usage(
    event_id: str,
    kind: str = "tool",
    *,
    customer: str = "acme",
    agent: str = "support-bot",
    at: datetime | str = NINE_AM,
    **fields: Any,
) -> dict[str, Any]:
    """An event as an agent service sends it, JSON-ready: by default acme's support bot sends one
    text message at 9 on the sample day.

    ``fields`` add to or replace the kind's typical fields, and may be hostile
    (a flag for a count, an unknown field): a test builds what the contract refuses the same way.
    ``at`` as a string goes out as it is.
    """
    return {
        "kind": kind,
        "event_id": event_id,
        "occurred_at": at.isoformat() if isinstance(at, datetime) else at,
        "customer_id": customer,
        "agent_id": agent,
        **TYPICAL.get(kind, {}),
        **fields,
    }


def event(event_id: str, kind: str = "tool", **fields: Any) -> UsageEvent:
    """``usage(...)`` read by the contract, as the SDK publishes it."""
    return usage_event_adapter.validate_python(usage(event_id, kind, **fields))


def encoded(event_id: str, kind: str = "tool", **fields: Any) -> bytes:
    """``usage(...)`` as the bytes of a Kafka message."""
    return orjson.dumps(usage(event_id, kind, **fields))


def day_at(clock: str) -> datetime:
    """A time of the sample day, e.g. ``day_at("11:59:30")``."""
    return datetime.combine(DAY.date(), time.fromisoformat(clock), tzinfo=UTC)


def sms(event_id: str, at: str = "2026-11-20T09:00:00Z", calls: int = 1) -> bytes:
    """A text message from acme's bot, as the bytes a unit test feeds the processor."""
    return encoded(event_id, agent="bot", at=at, calls=calls)


def batch(values: list[bytes], first_offset: int = 0, partition: int = 0) -> list[RawMessage]:
    return [RawMessage("usage", partition, first_offset + i, b"acme", v) for i, v in enumerate(values)]


def hour_total(sink: FakeSink) -> tuple[Decimal, int]:
    """The customer's hour window: its cost in USD, as the column holds it, and its events."""
    agg = next(v for k, v in sink.windows.items() if k.agent_id == "*" and k.size == 3600)
    return from_pico(agg.cost), agg.events


def run_command(settings: Settings, *argv: str) -> int:
    """A ``costline`` command line, parsed as the CLI parses it and run against ``settings``.

    A bad command line exits (``SystemExit`` 2) as it would from the shell.
    """
    args = build_parser().parse_args(argv)
    return int(args.func(args, settings))


def window_with_every_field(first: int = 1000) -> WindowAggregate:
    """Each field a different value, none its default: a field a derivation leaves out shows."""
    values: dict[str, Any] = {
        name: Decimal(f"{i}.00000000000{i % 10}")
        if kind is Decimal
        else (first + i) * 1_000_000_000_001  # pico-dollars: $1,000.000000001 and up
        if name in PICO_FIELDS
        else first + i
        for i, (name, kind) in enumerate(AGGREGATE_FIELDS.items())
    }
    return WindowAggregate(**values)


TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
# What a GenAI span of an OpenAI chat carries unless a test says otherwise: gpt-4o, 1,000 in and 100 out.
GENAI_USAGE: dict[str, Any] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 100,
}


def genai_span(
    span: int = 1,
    *,
    trace_id: bytes = TRACE_ID,
    end: datetime = NINE_AM,
    resource: dict[str, Any] | None = None,
    **attributes: Any,
) -> OtlpSpan:
    """A span as an instrumented agent reports it: by default acme's support bot calls gpt-4o at 9.

    ``attributes`` add to or replace the typical ones by their dotted names
    (``**{"gen_ai.usage.input_tokens": 5}``); a value None removes one.
    """
    merged = {**GENAI_USAGE, **attributes}
    return OtlpSpan(
        trace_id=trace_id,
        span_id=span.to_bytes(8, "big"),
        end_time_unix_nano=int((end - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 10**9,
        attributes={k: v for k, v in merged.items() if v is not None},
        resource=resource
        if resource is not None
        else {"service.name": "support-bot", "costline.customer_id": "acme"},
    )


def otlp_request(spans: list[OtlpSpan]) -> Any:
    """An ExportTraceServiceRequest holding ``spans``, each under a resource of its own."""
    request = ExportTraceServiceRequest()
    for span in spans:
        resource_spans = request.resource_spans.add()
        _set_attributes(resource_spans.resource.attributes, span.resource)
        sent = resource_spans.scope_spans.add().spans.add()
        sent.trace_id, sent.span_id, sent.name = span.trace_id, span.span_id, "chat gpt-4o"
        sent.start_time_unix_nano = span.end_time_unix_nano - 10**9
        sent.end_time_unix_nano = span.end_time_unix_nano
        _set_attributes(sent.attributes, span.attributes)
    return request


def otlp_json(spans: list[OtlpSpan]) -> dict[str, Any]:
    """``otlp_request(spans)`` in OTLP's JSON: protobuf's JSON mapping, with ids in hex."""
    document: dict[str, Any] = json_format.MessageToDict(otlp_request(spans))
    for resource_spans in document["resourceSpans"]:
        for sent in resource_spans["scopeSpans"][0]["spans"]:
            for name in ("traceId", "spanId"):
                sent[name] = base64.b64decode(sent[name]).hex()
    return document


def _set_attributes(target: Any, attributes: Any) -> None:
    for key, value in attributes.items():
        slot = target.add(key=key).value
        if isinstance(value, bool):
            slot.bool_value = value
        elif isinstance(value, int):
            slot.int_value = value
        elif isinstance(value, float):
            slot.double_value = value
        else:
            slot.string_value = str(value)


# A version with audio and image rates, and a model without them.
AUDIO_PRICES = PriceVersion.model_validate(
    {
        "version": "audio-1",
        "effective_from": "2026-01-01T00:00:00Z",
        "prices": [
            {
                "meter": "llm",
                "sku": "openai/gpt-4o-audio-preview",
                "input_per_mtok": "2.5",
                "cached_input_per_mtok": "1.25",
                "output_per_mtok": "10",
                "input_audio_per_mtok": "40",
                "cached_audio_input_per_mtok": "2.5",
                "output_audio_per_mtok": "80",
                "service_tiers": {"batch": {"input_audio_per_mtok": "20"}},
            },
            {"meter": "llm", "sku": "openai/gpt-4o", "input_per_mtok": "2.5", "output_per_mtok": "10"},
            {
                "meter": "llm",
                "sku": "google/gemini-2.5-flash-image",
                "input_per_mtok": "0.3",
                "output_per_mtok": "2.5",
                "input_image_per_mtok": "0.3",
                "output_image_per_mtok": "30",
            },
        ],
    }
)


def llm_call(model: str, **fields: object) -> UsageEvent:
    """A call to ``provider/model`` at 09:00 on the sample day."""
    provider, _, name = model.partition("/")
    return event("e-1", "llm", at="2026-11-20T09:00:00Z", provider=provider, model=name, **fields)
