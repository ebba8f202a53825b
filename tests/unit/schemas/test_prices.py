"""A price version states its rates, its tiers and the rule a tier follows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from schemas.prices import LlmPrice, PriceVersion

TIERED = {
    "meter": "llm",
    "sku": "google/gemini-2.5-pro",
    "input_per_mtok": {
        "base": "1.25",
        "tiers": [{"above_input_tokens": 200_000, "rate": "2.5"}],
        "rule": "whole_request",
    },
    "output_per_mtok": "10",
    "service_tiers": {"flex": {"input_per_mtok": "0.625"}},
}


def test_a_tiered_rate_round_trips_through_its_json() -> None:
    price = LlmPrice.model_validate(TIERED)
    assert LlmPrice.model_validate_json(price.model_dump_json()) == price


def test_a_tiered_rate_must_state_its_rule() -> None:
    untold = {**TIERED, "input_per_mtok": {"base": "1", "tiers": [{"above_input_tokens": 10, "rate": "2"}]}}
    with pytest.raises(ValidationError, match="rule"):
        LlmPrice.model_validate(untold)


def test_tier_thresholds_ascend() -> None:
    tiers = [{"above_input_tokens": 200, "rate": "2"}, {"above_input_tokens": 100, "rate": "3"}]
    with pytest.raises(ValidationError, match="ascending"):
        LlmPrice.model_validate(
            {**TIERED, "input_per_mtok": {"base": "1", "tiers": tiers, "rule": "whole_request"}}
        )


def test_only_known_service_tiers() -> None:
    with pytest.raises(ValidationError):
        LlmPrice.model_validate({**TIERED, "service_tiers": {"turbo": {"input_per_mtok": "1"}}})


def test_rates_flatten_for_the_price_versions_table() -> None:
    assert LlmPrice.model_validate(TIERED).rates() == {
        "input_per_mtok": Decimal("1.25"),
        "input_per_mtok>200000": Decimal("2.5"),
        "output_per_mtok": Decimal("10"),
        "batch_discount": Decimal("0"),
        "flex.input_per_mtok": Decimal("0.625"),
    }


def test_a_version_may_carry_aliases() -> None:
    version = PriceVersion.model_validate(
        {
            "version": "mine",
            "effective_from": "2026-01-01T00:00:00Z",
            "prices": [],
            "aliases": {"prod-llm": "openai/gpt-4o"},
        }
    )
    assert version.aliases == {"prod-llm": "openai/gpt-4o"}
