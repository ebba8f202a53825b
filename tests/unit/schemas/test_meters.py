"""Meters: which events count, and how they add up."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.meters import Meter


def meter(kinds: list[str]) -> Meter:
    return Meter.model_validate({"name": "actions", "aggregation": "count", "filter": {"kinds": kinds}})


def test_a_filter_takes_the_contracts_kinds_only() -> None:
    assert meter(["llm", "human_review"]).filter.kinds == ["llm", "human_review"]
    with pytest.raises(ValidationError, match="vector_query"):
        meter(["llm_call"])
