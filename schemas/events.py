"""The usage event contract: what agent services publish to Kafka.

Events are JSON objects on the wire, one per Kafka message, keyed by
``customer_id``. ``kind`` selects the meter that prices the event. Unknown
fields are rejected rather than silently dropped: free-form metadata belongs
in ``attributes``, so a typo such as ``output_token`` fails loudly (and the
event goes to the dead-letter topic) instead of billing zero tokens.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)

SCHEMA_VERSION: Literal[1] = 1

# Upper bounds catch unit mistakes (bytes sent as tokens, ms as seconds)
# without getting in the way of real traffic.
MAX_TOKENS = 100_000_000
MAX_COUNT = 10_000_000
MAX_SECONDS = Decimal(366 * 24 * 3600)
MAX_BYTES = 10**16  # 10 PB

# No control characters: identifiers end up in keys, CSV and terminal output.
Identifier = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")]
Sku = Annotated[str, Field(min_length=1, max_length=128)]
Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Seconds = Annotated[Decimal, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
Money = Annotated[Decimal, Field(ge=0, le=Decimal(10**15), allow_inf_nan=False)]


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: Identifier
    occurred_at: AwareDatetime
    customer_id: Identifier
    agent_id: Identifier
    user_id: Identifier | None = None
    task_id: Identifier | None = None
    request_id: Identifier | None = None
    attributes: dict[str, str] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class LlmCall(_EventBase):
    """One model call. Token fields follow the provider's own usage report.

    ``input_tokens`` counts every prompt token; ``cached_input_tokens`` and
    ``cache_write_tokens`` are the parts of it read from or written to the
    prompt cache, priced at their own rates and never also at the full rate.
    ``reasoning_tokens`` are part of ``output_tokens``.
    """

    kind: Literal["llm"]
    provider: Sku
    model: Sku
    input_tokens: Tokens
    output_tokens: Tokens
    cached_input_tokens: Tokens = 0
    cache_write_tokens: Tokens = 0
    reasoning_tokens: Tokens = 0
    batch: bool = False

    @model_validator(mode="after")
    def _parts_fit_totals(self) -> LlmCall:
        if self.cached_input_tokens + self.cache_write_tokens > self.input_tokens:
            raise ValueError(
                "cached_input_tokens + cache_write_tokens exceed input_tokens; "
                "input_tokens must count every prompt token"
            )
        if self.reasoning_tokens > self.output_tokens:
            raise ValueError("reasoning_tokens exceed output_tokens; they are part of the output")
        return self


class ToolCall(_EventBase):
    """Calls to a paid tool or API (search, payments, SMS)."""

    kind: Literal["tool"]
    tool: Sku
    calls: Count = 1


class Embedding(_EventBase):
    kind: Literal["embedding"]
    model: Sku
    tokens: Tokens


class VectorQuery(_EventBase):
    kind: Literal["vector_query"]
    provider: Sku
    queries: Count = 1


class Compute(_EventBase):
    """Seconds of a compute SKU (a container size, a GPU class)."""

    kind: Literal["compute"]
    sku: Sku
    seconds: Seconds


class Storage(_EventBase):
    """``bytes`` held for ``seconds``; priced per GB-month, prorated."""

    kind: Literal["storage"]
    sku: Sku
    bytes: Annotated[int, Field(ge=0, le=MAX_BYTES)]
    seconds: Seconds


class HumanReview(_EventBase):
    """Minutes of human work (review, failure remediation) at a rate SKU."""

    kind: Literal["human_review"]
    sku: Sku
    minutes: Seconds


class Outcome(_EventBase):
    """A business result. It costs nothing; billing plans put a price on it."""

    kind: Literal["outcome"]
    outcome_type: Sku
    quantity: Count = 1
    value: Money | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    success: bool = True


UsageEvent = Annotated[
    LlmCall | ToolCall | Embedding | VectorQuery | Compute | Storage | HumanReview | Outcome,
    Field(discriminator="kind"),
]
KINDS: tuple[str, ...] = (
    "llm",
    "tool",
    "embedding",
    "vector_query",
    "compute",
    "storage",
    "human_review",
    "outcome",
)

usage_event_adapter: TypeAdapter[UsageEvent] = TypeAdapter(UsageEvent)


def parse_event(raw: bytes | str) -> UsageEvent:
    """Decode and validate one wire event; raises ``pydantic.ValidationError``."""
    return usage_event_adapter.validate_json(raw)


def dump_event(event: UsageEvent) -> bytes:
    """The wire form: compact JSON, no fields left at their defaults omitted."""
    return event.model_dump_json(exclude_none=True).encode()
