"""Meters: which events count, and how they add up."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.meters import Meter


def test_a_filter_takes_the_contracts_kinds_only() -> None:
    meter = Meter(name="actions", aggregation="count", filter={"kinds": ["llm", "human_review"]})
    assert meter.filter.kinds == ["llm", "human_review"]
    with pytest.raises(ValidationError, match="vector_query"):
        Meter(name="actions", aggregation="count", filter={"kinds": ["llm_call"]})
