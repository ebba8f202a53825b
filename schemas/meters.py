"""Billable meters as data: which ledger rows count, and how they add up.

A meter is a filter over priced events and an aggregation, in the spirit of
OpenMeter's meters. Filters match the ledger's columns: the event ``kind``,
its ``sku`` (the model, tool, vector provider, compute/storage/review SKU or
outcome type), ``provider``, ``outcome_type``, the outcome's ``success`` and
exact ``attributes``. Empty lists match everything.

Aggregations: ``count`` of events, ``sum`` of a numeric field, ``unique_count``
of an identifier field, or ``cost`` (the sum of priced cost).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events import Kind

SumField = Literal[
    "quantity",
    "outcome_value",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
]
UniqueField = Literal["user_id", "task_id", "agent_id", "request_id"]


class MeterFilter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kinds: list[Kind] = Field(default_factory=list)
    skus: list[str] = Field(default_factory=list)
    providers: list[str] = Field(default_factory=list)
    outcome_types: list[str] = Field(default_factory=list)
    success: bool | None = None
    attributes: dict[str, str] = Field(default_factory=dict)


class Meter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    description: str = ""
    filter: MeterFilter = Field(default_factory=MeterFilter)
    aggregation: Literal["count", "sum", "unique_count", "cost"]
    field: SumField | UniqueField | None = None
    unit: str = ""

    @model_validator(mode="after")
    def _field_fits_aggregation(self) -> Meter:
        sums, uniques = SumField.__args__, UniqueField.__args__  # type: ignore[attr-defined]
        if self.aggregation == "sum" and self.field not in sums:
            raise ValueError(f"a sum meter needs a numeric field, one of {', '.join(sums)}")
        if self.aggregation == "unique_count" and self.field not in uniques:
            raise ValueError(f"a unique_count meter needs an identifier field, one of {', '.join(uniques)}")
        if self.aggregation in ("count", "cost") and self.field is not None:
            raise ValueError(f"a {self.aggregation} meter takes no field")
        return self
