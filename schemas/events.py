"""The usage event contract: what agent services publish to Kafka.

Events are JSON objects on the wire, one per Kafka message, keyed by
``customer_id``. ``kind`` selects the meter that prices the event. Unknown
fields are rejected rather than silently dropped: free-form metadata belongs
in ``attributes``, so a typo such as ``output_token`` fails loudly (and the
event goes to the dead-letter topic) instead of billing zero tokens.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Annotated, Any, Literal, get_args

import jiter
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from schemas.money import SCALE

SCHEMA_VERSION: Literal[1] = 1

# Upper bounds catch unit mistakes (bytes sent as tokens, ms as seconds)
# without getting in the way of real traffic.
MAX_TOKENS = 100_000_000
MAX_COUNT = 10_000_000
MAX_SECONDS = Decimal(366 * 24 * 3600)
MAX_BYTES = 10**16  # 10 PB
MAX_MONEY = Decimal(10**15)

# Every amount is kept at the ledger's scale, Decimal(38, 12): finer digits
# (a float's tail, say) are rounded half-even here, once, so the ledger, the
# windows and the cost priced from it all see the same number.
_AMOUNT_CONTEXT = Context(prec=50)

# occurred_at must fit every column it reaches: cost_windows.window_start is
# a DateTime (1970-01-01 .. 2106-02-07), the ledger's a DateTime64(6)
# (1900 .. 2299). Tighter, per-deployment bounds (how old, how far ahead)
# are checked against the message's broker time: streams.decoding.
EARLIEST_OCCURRED_AT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_OCCURRED_AT = datetime(2100, 1, 1, tzinfo=UTC)  # exclusive

# Attributes are free-form, so they are bounded: a 5 MB value or thousands
# of keys would otherwise land in every ledger row and dead letter.
MAX_ATTRIBUTES = 64
MAX_ATTRIBUTE_KEY_CHARS = 128
MAX_ATTRIBUTE_VALUE_CHARS = 1024

# No control characters (C0, DEL, C1): identifiers and SKUs end up in keys,
# CSV and terminal output, and the windows use \x1f as a key separator.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f]+$"


def _keep_amount(value: Decimal) -> Decimal:
    # copy_abs: amounts are >= 0, and -0 would read oddly in a dead letter or export
    return value.quantize(SCALE, rounding=ROUND_HALF_EVEN, context=_AMOUNT_CONTEXT).copy_abs()


def _keep_signed(value: Decimal) -> Decimal:
    kept = value.quantize(SCALE, rounding=ROUND_HALF_EVEN, context=_AMOUNT_CONTEXT)
    return kept.copy_abs() if kept.is_zero() else kept


def _exactly_one(value: Any) -> Any:
    # Literal[1] would also take true and 1.0; the version is the integer 1.
    if type(value) is not int:
        raise PydanticCustomError("int_type", "schema_version must be the JSON integer 1")
    return value


# Kept as sent: stripping would merge "team" and "team " into one key, the
# last value silently winning.
AttributeText = Annotated[str, StringConstraints(strip_whitespace=False)]
Identifier = Annotated[str, Field(min_length=1, max_length=256, pattern=_NO_CONTROL)]
Sku = Annotated[str, Field(min_length=1, max_length=128, pattern=_NO_CONTROL)]
# Counts are JSON integers only: true, "1000", 1e3 and 1000.0 are refused, as
# each has been a producer bug (a flag, a string field, a float division).
Tokens = Annotated[int, Strict(), Field(ge=0, le=MAX_TOKENS)]
Count = Annotated[int, Strict(), Field(ge=0, le=MAX_COUNT)]
Bytes = Annotated[int, Strict(), Field(ge=0, le=MAX_BYTES)]
# Amounts may be JSON numbers or decimal strings (as Stripe takes money and
# as dump_event writes them), never booleans.
Seconds = Annotated[Decimal, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False), AfterValidator(_keep_amount)]
Money = Annotated[Decimal, Field(ge=0, le=MAX_MONEY, allow_inf_nan=False), AfterValidator(_keep_amount)]
# A change of cost, either way (a correction's), kept at the ledger's scale.
CostDelta = Annotated[
    Decimal, Field(ge=-MAX_MONEY, le=MAX_MONEY, allow_inf_nan=False), AfterValidator(_keep_signed)
]


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    schema_version: Annotated[Literal[1], BeforeValidator(_exactly_one)] = SCHEMA_VERSION
    event_id: Identifier
    occurred_at: AwareDatetime
    customer_id: Identifier
    agent_id: Identifier
    user_id: Identifier | None = None
    task_id: Identifier | None = None
    request_id: Identifier | None = None
    attributes: dict[AttributeText, AttributeText] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        try:
            utc = value.astimezone(UTC)
        except OverflowError:  # year 1 or 9999 with an offset: not a time any column holds
            utc = None
        if utc is None or not EARLIEST_OCCURRED_AT <= utc < LATEST_OCCURRED_AT:
            raise ValueError(
                f"must be from {EARLIEST_OCCURRED_AT.date()} and before {LATEST_OCCURRED_AT.date()}, "
                "the range every time column holds"
            )
        return utc

    @field_validator("attributes")
    @classmethod
    def _bounded_attributes(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_ATTRIBUTES:
            raise ValueError(f"at most {MAX_ATTRIBUTES} attributes (MAX_ATTRIBUTES), not {len(value):,}")
        for key, text in value.items():
            if not 1 <= len(key) <= MAX_ATTRIBUTE_KEY_CHARS:
                raise ValueError(
                    f"a key has 1 to {MAX_ATTRIBUTE_KEY_CHARS} characters (MAX_ATTRIBUTE_KEY_CHARS), "
                    f"not {len(key):,}"
                )
            if len(text) > MAX_ATTRIBUTE_VALUE_CHARS:
                raise ValueError(
                    f"{_shown(key)}: a value has at most {MAX_ATTRIBUTE_VALUE_CHARS} characters "
                    f"(MAX_ATTRIBUTE_VALUE_CHARS), not {len(text):,}"
                )
            if _CONTROL.search(key) or _CONTROL.search(text):
                raise ValueError(f"{_shown(key)}: keys and values may not hold control characters")
        return value


def _shown(key: str) -> str:
    """An attribute key as a reason may quote it: printable and short."""
    return repr(key if len(key) <= 40 else key[:40] + "…")


# The provider's service tier a call ran in, priced at that tier's own rates
# where the price lists them. ``batch: true`` is the older spelling of "batch".
ServiceTier = Literal["batch", "flex", "priority"]


# An LlmCall's audio and image counts, which the ledger keeps in columns of
# the same names (sql/ddl/012_ledger_media_tokens.sql).
MEDIA_TOKENS = (
    "input_audio_tokens",
    "cached_audio_input_tokens",
    "output_audio_tokens",
    "input_image_tokens",
    "cached_image_input_tokens",
    "output_image_tokens",
)


class LlmCall(_EventBase):
    """One model call. Token fields follow the provider's own usage report.

    ``input_tokens`` counts every prompt token; ``cached_input_tokens`` and
    ``cache_write_tokens`` are the parts of it read from or written to the
    prompt cache, priced at their own rates and never also at the full rate.
    ``reasoning_tokens`` are part of ``output_tokens``.

    Audio and image tokens are parts of the totals too, as genai-prices
    counts them (its usage names in brackets); a part is priced at its own
    rate and the text remainder at the text rates, never both:

    - ``input_audio_tokens`` [input_audio_tokens] and ``input_image_tokens``
      [input_image_tokens] are part of ``input_tokens``, cached or not;
    - ``cached_audio_input_tokens`` [cache_audio_read_tokens] and
      ``cached_image_input_tokens`` [cache_image_read_tokens] are part of both
      ``cached_input_tokens`` and the matching input count;
    - ``output_audio_tokens`` [output_audio_tokens] and
      ``output_image_tokens`` [output_image_tokens] are part of
      ``output_tokens``.

    Cache writes and reasoning tokens are text: no source prices them per
    modality, so they never overlap the audio and image parts.
    """

    kind: Literal["llm"]
    provider: Sku
    model: Sku
    input_tokens: Tokens
    output_tokens: Tokens
    cached_input_tokens: Tokens = 0
    cache_write_tokens: Tokens = 0
    reasoning_tokens: Tokens = 0
    input_audio_tokens: Tokens = 0
    cached_audio_input_tokens: Tokens = 0
    output_audio_tokens: Tokens = 0
    input_image_tokens: Tokens = 0
    cached_image_input_tokens: Tokens = 0
    output_image_tokens: Tokens = 0
    batch: StrictBool = False
    service_tier: ServiceTier | None = None

    @property
    def tier(self) -> ServiceTier | None:
        return self.service_tier or ("batch" if self.batch else None)

    @model_validator(mode="after")
    def _parts_fit_totals(self) -> LlmCall:
        # Every check below at once, on plain reads: an llm event is most of the
        # traffic and almost always fits, and the checks one by one took ~1.4 µs
        # an event (a fifth of its validation). The same conditions, so the
        # slow path below runs only to name what does not fit.
        audio, image = self.cached_audio_input_tokens, self.cached_image_input_tokens
        in_audio, in_image = self.input_audio_tokens, self.input_image_tokens
        text_in = self.input_tokens - self.cached_input_tokens - self.cache_write_tokens
        text_out = self.output_tokens - self.output_audio_tokens - self.output_image_tokens
        if (
            (self.service_tier is None or self.service_tier == "batch" or not self.batch)
            and audio <= in_audio
            and image <= in_image
            and audio + image <= self.cached_input_tokens
            and text_in - (in_audio - audio) - (in_image - image) >= 0
            and text_out - self.reasoning_tokens >= 0
        ):
            return self
        if self.batch and self.service_tier not in (None, "batch"):
            raise ValueError(f"batch is true but service_tier is {self.service_tier!r}")
        if self.cached_input_tokens + self.cache_write_tokens > self.input_tokens:
            raise ValueError(
                "cached_input_tokens + cache_write_tokens exceed input_tokens; "
                "input_tokens must count every prompt token"
            )
        if self.reasoning_tokens > self.output_tokens:
            raise ValueError("reasoning_tokens exceed output_tokens; they are part of the output")
        self._media_parts_fit()
        return self

    def _media_parts_fit(self) -> None:
        for media in ("audio", "image"):
            if getattr(self, f"cached_{media}_input_tokens") > getattr(self, f"input_{media}_tokens"):
                raise ValueError(
                    f"cached_{media}_input_tokens exceed input_{media}_tokens; they are part of them"
                )
        if self.cached_audio_input_tokens + self.cached_image_input_tokens > self.cached_input_tokens:
            raise ValueError(
                "cached_audio_input_tokens + cached_image_input_tokens exceed cached_input_tokens; "
                "they are part of them"
            )
        if self.text_input_tokens < 0:
            raise ValueError(
                "audio, image, cached and cache-write tokens exceed input_tokens; "
                "input_tokens must count every prompt token"
            )
        if self.text_output_tokens < 0:
            raise ValueError(
                "output_audio_tokens + output_image_tokens + reasoning_tokens exceed output_tokens; "
                "output_tokens must count every output token"
            )

    @property
    def text_input_tokens(self) -> int:
        """Prompt tokens that are text and neither read from nor written to the cache."""
        uncached_media = (self.input_audio_tokens - self.cached_audio_input_tokens) + (
            self.input_image_tokens - self.cached_image_input_tokens
        )
        return self.input_tokens - self.cached_input_tokens - self.cache_write_tokens - uncached_media

    @property
    def text_cached_input_tokens(self) -> int:
        """Prompt tokens read from the cache that are text."""
        return self.cached_input_tokens - self.cached_audio_input_tokens - self.cached_image_input_tokens

    @property
    def text_output_tokens(self) -> int:
        """Output tokens that are text and not reasoning."""
        media = self.output_audio_tokens + self.output_image_tokens
        return self.output_tokens - media - self.reasoning_tokens


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
    bytes: Bytes
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
    success: StrictBool = True


# The kinds, in UsageEvent's order: each is its class's ``kind`` literal
# (tests/unit/schemas/test_events.py checks the two agree). Meters and the
# rest of the tree take their choices from here.
Kind = Literal[
    "llm", "tool", "embedding", "vector_query", "compute", "storage", "human_review", "outcome", "correction"
]


class Correction(_EventBase):
    """A change to a counted event's cost, appended by ``costline reprice``.

    History is never rewritten: a correction is counted like usage (same
    topic, key, dedup and exactly-once path) and adds ``cost_delta`` to the
    ledger and to the windows of the event it ``corrects``, whose time,
    customer, agent, attributes and kind (``corrected_kind``) it repeats so
    every window, meter and invoice that held the original sees the change.
    It adds no event to any count. ``event_id`` is derived from
    (``run_id``, ``corrects``), so publishing a run again changes nothing.
    """

    kind: Literal["correction"]
    corrects: Identifier
    corrected_kind: Kind
    run_id: Identifier
    reason: Annotated[str, Field(min_length=1, max_length=1000)]
    cost_delta: CostDelta
    provider: Annotated[str, Field(max_length=128)] = ""
    sku: Sku
    model_sent: Annotated[str, Field(max_length=128)] = ""
    price_version: Annotated[str, Field(max_length=200)] = ""

    @field_validator("corrected_kind")
    @classmethod
    def _corrects_usage(cls, value: str) -> str:
        if value in ("correction", "outcome"):
            raise ValueError(f"a correction corrects a priced event, not an {value!r} one")
        return value


UsageEvent = Annotated[
    LlmCall | ToolCall | Embedding | VectorQuery | Compute | Storage | HumanReview | Outcome | Correction,
    Field(discriminator="kind"),
]

usage_event_adapter: TypeAdapter[UsageEvent] = TypeAdapter(UsageEvent)
# Each kind's model, from the union above: its ``kind`` literal names it.
EVENT_MODELS: dict[str, type[BaseModel]] = {
    get_args(model.model_fields["kind"].annotation)[0]: model for model in get_args(get_args(UsageEvent)[0])
}


def load_json(raw: bytes | str) -> Any:
    """Strict JSON: duplicate keys, NaN and Infinity refused, numbers with a
    fraction or exponent read as ``Decimal`` (never float).

    Raises a ``ValidationError`` of type ``json_invalid``, as pydantic's own
    JSON parsing does, so callers have one error to handle.
    """
    try:
        return jiter.from_json(
            raw.encode() if isinstance(raw, str) else raw,
            allow_inf_nan=False,
            catch_duplicate_keys=True,
            float_mode="decimal",
            cache_mode="keys",  # values are mostly unique (ids, times): caching them costs more
        )
    except ValueError as exc:
        detail: InitErrorDetails = {
            "type": "json_invalid",
            "loc": (),
            "input": b"",  # the message itself travels with the dead letter
            "ctx": {"error": str(exc)},
        }
        raise ValidationError.from_exception_data("UsageEvent", [detail]) from None


def parse_event(raw: bytes | str) -> UsageEvent:
    """Decode and validate one wire event; raises ``pydantic.ValidationError``."""
    return usage_event_adapter.validate_python(load_json(raw))


def dump_event(event: UsageEvent) -> bytes:
    """The wire form: compact JSON, no fields left at their defaults omitted."""
    return event.model_dump_json(exclude_none=True).encode()
