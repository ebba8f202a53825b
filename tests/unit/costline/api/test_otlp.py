"""OpenTelemetry GenAI spans to llm events: usage, older names, ids, and whose customer it is."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from costline.api.otlp import (
    AttributeMapping,
    SpanOutcome,
    SpanRejected,
    event_id_of,
    map_spans,
    to_event,
)
from costline.config import Settings
from schemas.events import LlmCall
from tests.factories import NINE_AM, TRACE_ID, genai_span

DEFAULTS = AttributeMapping.from_settings(Settings())


def billed(**attributes: object) -> LlmCall:
    event = to_event(genai_span(**attributes), DEFAULTS)  # type: ignore[arg-type]
    assert event is not None
    return event


def test_a_genai_span_is_an_llm_event_of_its_resources_customer_and_service() -> None:
    event = billed()
    assert event.kind == "llm"
    assert (event.customer_id, event.agent_id) == ("acme", "support-bot")
    assert (event.provider, event.model) == ("openai", "gpt-4o")
    assert (event.input_tokens, event.output_tokens) == (1000, 100)
    assert event.occurred_at == NINE_AM  # the span's end time
    assert event.user_id is None and event.task_id is None


def test_the_event_id_is_the_trace_and_span_ids_in_hex() -> None:
    assert billed().event_id == f"otel:{TRACE_ID.hex()}:0000000000000001"
    with pytest.raises(SpanRejected, match="trace id"):
        event_id_of(bytes(16), b"\x01" * 8)
    with pytest.raises(SpanRejected, match="span id"):
        event_id_of(TRACE_ID, b"\x01" * 4)


def test_cache_and_reasoning_usage_are_their_contract_fields() -> None:
    event = billed(
        **{
            "gen_ai.usage.cache_read.input_tokens": 600,
            "gen_ai.usage.cache_creation.input_tokens": 200,
            "gen_ai.usage.reasoning.output_tokens": 40,
        }
    )
    assert (event.input_tokens, event.cached_input_tokens, event.cache_write_tokens) == (1000, 600, 200)
    assert (event.output_tokens, event.reasoning_tokens) == (100, 40)


def test_an_input_that_left_the_cache_out_has_it_added() -> None:
    # Anthropic reports input_tokens without the cache; the contract counts every prompt token.
    event = billed(
        **{
            "gen_ai.usage.input_tokens": 50,
            "gen_ai.usage.cache_read.input_tokens": 900,
            "gen_ai.usage.cache_creation.input_tokens": 100,
        }
    )
    assert (event.input_tokens, event.cached_input_tokens, event.cache_write_tokens) == (1050, 900, 100)
    assert billed(**{"gen_ai.usage.reasoning.output_tokens": 300}).output_tokens == 400


def test_the_older_names_are_read_and_the_newer_win() -> None:
    older = {
        "gen_ai.usage.input_tokens": None,
        "gen_ai.usage.output_tokens": None,
        "gen_ai.usage.prompt_tokens": 70,
        "gen_ai.usage.completion_tokens": 7,
        "gen_ai.provider.name": None,
        "gen_ai.system": "anthropic",
    }
    event = billed(**older)
    assert (event.input_tokens, event.output_tokens, event.provider) == (70, 7, "anthropic")
    both = billed(**{"gen_ai.usage.prompt_tokens": 70, "gen_ai.system": "az.ai.inference"})
    assert (both.input_tokens, both.provider) == (1000, "openai")


def test_the_response_model_wins_over_the_requested_one() -> None:
    assert billed(**{"gen_ai.response.model": "gpt-4o-2024-08-06"}).model == "gpt-4o-2024-08-06"


def test_a_count_sent_as_a_whole_double_is_taken_and_a_fraction_refused() -> None:
    assert billed(**{"gen_ai.usage.input_tokens": 1000.0}).input_tokens == 1000
    with pytest.raises(SpanRejected, match="whole number"):
        billed(**{"gen_ai.usage.input_tokens": 10.5})
    with pytest.raises(SpanRejected, match="whole number"):
        billed(**{"gen_ai.usage.output_tokens": True})


def test_user_task_and_request_come_from_their_attributes() -> None:
    event = billed(
        **{"enduser.id": "u-7", "gen_ai.conversation.id": "conv-1", "gen_ai.response.id": "chatcmpl-9"}
    )
    assert (event.user_id, event.task_id, event.request_id) == ("u-7", "conv-1", "chatcmpl-9")


def test_the_span_names_its_agent_before_the_resource_does() -> None:
    assert billed(**{"gen_ai.agent.name": "triage"}).agent_id == "triage"
    assert billed(**{"costline.agent_id": "billing", "gen_ai.agent.name": "triage"}).agent_id == "billing"


def test_which_attribute_gives_the_customer_is_a_setting() -> None:
    mapping = AttributeMapping.from_settings(
        Settings(otlp_customer_attributes=("tenant.id",), otlp_task_attributes=("session.id",))
    )
    span = genai_span(resource={"tenant.id": "globex", "service.name": "bot"}, **{"session.id": "s-1"})
    event = to_event(span, mapping)
    assert event is not None and (event.customer_id, event.task_id) == ("globex", "s-1")
    with pytest.raises(SpanRejected, match=r"no customer: set tenant\.id"):
        to_event(genai_span(), mapping)


def test_a_span_without_usage_is_ignored() -> None:
    no_usage = {"gen_ai.usage.input_tokens": None, "gen_ai.usage.output_tokens": None}
    assert to_event(genai_span(**no_usage), DEFAULTS) is None
    http = genai_span(**no_usage, **{"gen_ai.provider.name": None, "gen_ai.request.model": None})
    assert to_event(http, DEFAULTS) is None


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({"gen_ai.provider.name": None}, "no provider"),
        ({"gen_ai.request.model": None}, "no model"),
        ({"gen_ai.usage.input_tokens": -5}, "input_tokens"),
        ({"costline.customer_id": ["a", "b"]}, "a string"),
    ],
)
def test_usage_that_cannot_be_billed_is_rejected_with_its_reason(
    attributes: dict[str, object], reason: str
) -> None:
    with pytest.raises(SpanRejected, match=reason):
        billed(**attributes)


def test_a_span_without_an_end_time_is_rejected() -> None:
    span = genai_span()
    with pytest.raises(SpanRejected, match="end time"):
        to_event(replace(span, end_time_unix_nano=0), DEFAULTS)


def test_spans_of_another_or_no_customer_are_rejected_never_dropped() -> None:
    spans = [
        genai_span(1),
        genai_span(2, resource={"service.name": "bot", "costline.customer_id": "globex"}),
        genai_span(3, resource={"service.name": "bot"}),
        genai_span(4, **{"gen_ai.usage.input_tokens": None, "gen_ai.usage.output_tokens": None}),
        genai_span(1),
    ]
    mapped = map_spans(spans, DEFAULTS, key_customer="acme")
    assert [e.event_id[-1] for e in mapped.events] == ["1"]
    assert mapped.counts == {
        SpanOutcome.ACCEPTED: 1,
        SpanOutcome.REJECTED: 2,
        SpanOutcome.IGNORED: 1,
        SpanOutcome.DUPLICATE: 1,
    }
    assert "'globex' is not this key's customer ('acme')" in mapped.message()
    assert "no customer: set costline.customer_id" in mapped.message()
    assert "1 span(s) without GenAI usage ignored" in mapped.message()
    assert map_spans(spans[:3], DEFAULTS, key_customer=None).rejected == 1  # a key for every customer


def test_an_end_time_keeps_its_microseconds() -> None:
    span = genai_span()
    later = replace(span, end_time_unix_nano=span.end_time_unix_nano + 1_234_567)
    event = to_event(later, DEFAULTS)
    assert event is not None and event.occurred_at == NINE_AM + timedelta(microseconds=1234)
