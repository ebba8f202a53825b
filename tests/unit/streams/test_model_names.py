"""OpenTelemetry's GenAI provider names find the same prices as the names users type.

Spans say ``gen_ai.provider.name = aws.bedrock`` or ``gcp.vertex_ai`` (the
semantic conventions' well-known values), SDKs and users say ``bedrock`` or
``google``: both must land on the same synced SKU.
"""

from __future__ import annotations

import pytest

from streams.model_names import source_candidates


@pytest.mark.parametrize(
    ("otel_provider", "model", "sku"),
    [
        ("openai", "gpt-4o", "openai/gpt-4o"),
        ("anthropic", "claude-sonnet-4-5", "anthropic/claude-sonnet-4-5"),
        (
            "aws.bedrock",
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "aws/regional.anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
        ("gcp.vertex_ai", "gemini-2.5-pro", "google/gemini-2.5-pro"),
        ("gcp.gemini", "gemini-2.5-flash", "google/gemini-2.5-flash"),
        ("gcp.gen_ai", "gemini-2.5-flash", "google/gemini-2.5-flash"),
        ("azure.ai.openai", "gpt-4o", "openai/gpt-4o"),
        ("mistral_ai", "mistral-large-latest", "mistral/mistral-large"),
        ("x_ai", "grok-4", "x-ai/grok-4-0709"),
        ("deepseek", "deepseek-chat", "deepseek/deepseek-chat"),
        ("groq", "llama-3.3-70b-versatile", "groq/llama-3.3-70b-versatile"),
    ],
)
def test_an_otel_provider_name_finds_the_synced_price(otel_provider: str, model: str, sku: str) -> None:
    assert source_candidates(otel_provider, model)[0] == sku


def test_bedrock_as_users_write_it_and_as_otel_writes_it_are_one_price() -> None:
    model = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert source_candidates("aws.bedrock", model)[0] == source_candidates("bedrock", model)[0]


def test_an_unknown_model_finds_nothing_rather_than_a_guess() -> None:
    assert source_candidates("ibm.watsonx.ai", "no-such-model-xyz") == []
