"""The versioned price catalog.

A :class:`PriceVersion` is a dated set of unit prices. Versions stack: to
price an event, take, for the event's meter and SKU, the price from the
newest version whose ``effective_from`` is at or before the event's own
``occurred_at``. A version therefore only needs to list the prices it
changes. All prices are ``Decimal`` in the version's currency.

Versions come in two layers. ``list`` versions are the providers' public
prices (``costline prices sync`` writes them). ``negotiated`` versions are a
customer's own agreement with a provider: fixed prices per SKU and a
fractional discount per provider, in force from ``effective_from`` until
``effective_until`` (open-ended when unset). At an event's time the
negotiated layer wins over every list price in force, even a list version
that starts later: a sync of newer list prices never undoes a contract.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from schemas.events import ServiceTier
from schemas.validation import problems

Rate = Annotated[Decimal, Field(ge=0, le=Decimal(10**9), allow_inf_nan=False)]
Sku = Annotated[str, Field(min_length=1, max_length=128)]


def synced_sku(provider_id: str, model_id: str) -> str:
    """The SKU a price synced from genai-prices is kept under: ``openai/gpt-4o``."""
    return f"{provider_id}/{model_id}"


class _PriceBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sku: Sku

    def rates(self) -> dict[str, Decimal]:
        """Every rate by name, as ``price_versions`` records it."""
        return self.model_dump(exclude={"meter", "sku"}, exclude_none=True)


# How a tiered rate applies once the prompt (every input token of the request,
# cached or not) exceeds a tier's threshold: "whole_request" charges all the
# request's tokens of that kind at the tier's rate, not only those above it.
# Most providers bill so, and genai-prices does since its PR #242.
TierRule = Literal["whole_request"]


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    above_input_tokens: Annotated[int, Field(ge=0)]
    rate: Rate


class TieredRate(BaseModel):
    """A per-million rate that changes with the prompt's size, by ``rule``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    base: Rate
    tiers: Annotated[list[Tier], Field(min_length=1)]
    rule: TierRule

    @field_validator("tiers")
    @classmethod
    def _ascending(cls, tiers: list[Tier]) -> list[Tier]:
        thresholds = [tier.above_input_tokens for tier in tiers]
        if thresholds != sorted(set(thresholds)):
            raise ValueError("tier thresholds must be distinct and ascending")
        return tiers

    def at(self, prompt_tokens: int) -> Decimal:
        """The rate for a request whose prompt has ``prompt_tokens`` tokens."""
        rate = self.base
        for tier in self.tiers:
            if prompt_tokens > tier.above_input_tokens:
                rate = tier.rate
        return rate


TokenRate = Annotated[Rate | TieredRate, Field(union_mode="left_to_right")]

# The audio and image rates, each pricing the LlmCall count of the same stem
# (``input_audio_per_mtok`` prices ``input_audio_tokens``), with the words a
# dead letter uses for it. genai-prices' key for each is in the comment.
MEDIA_RATES: dict[str, str] = {
    "input_audio_per_mtok": "audio input",  # input_audio_mtok
    "cached_audio_input_per_mtok": "cached audio input",  # cache_audio_read_mtok
    "output_audio_per_mtok": "audio output",  # output_audio_mtok
    "input_image_per_mtok": "image input",  # input_image_mtok
    "cached_image_input_per_mtok": "cached image input",  # cache_image_read_mtok
    "output_image_per_mtok": "image output",  # output_image_mtok
}


class _MediaRates(BaseModel):
    """Audio and image rates; see :data:`MEDIA_RATES`. None: the price has no such rate."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    input_audio_per_mtok: TokenRate | None = None
    cached_audio_input_per_mtok: TokenRate | None = None
    output_audio_per_mtok: TokenRate | None = None
    input_image_per_mtok: TokenRate | None = None
    cached_image_input_per_mtok: TokenRate | None = None
    output_image_per_mtok: TokenRate | None = None


class ServiceTierRates(_MediaRates):
    """A service tier's own rates; a rate left out is the standard one."""

    input_per_mtok: TokenRate | None = None
    output_per_mtok: TokenRate | None = None
    cached_input_per_mtok: TokenRate | None = None
    cache_write_per_mtok: TokenRate | None = None
    per_request: Rate | None = None


class LlmPrice(_PriceBase, _MediaRates):
    """Per million tokens. Optional rates fall back to the plain ones.

    Audio and image rates (:data:`MEDIA_RATES`) are the exception: they
    never fall back, and a call carrying tokens of a kind its price has no
    rate for cannot be priced. A token rate is a plain rate or a
    :class:`TieredRate` by prompt size.
    ``service_tiers`` holds the provider's own rates for batch, flex or
    priority calls; a call in a tier the price does not list pays the
    standard rates (less ``batch_discount`` for batch calls).
    """

    meter: Literal["llm"]
    input_per_mtok: TokenRate
    output_per_mtok: TokenRate
    cached_input_per_mtok: TokenRate | None = None
    cache_write_per_mtok: TokenRate | None = None
    reasoning_per_mtok: Rate | None = None
    per_request: Rate | None = None  # a fee per call, whatever its tokens
    # Fraction taken off every token rate for batch-API calls (0.5 = half price).
    batch_discount: Annotated[Decimal, Field(ge=0, lt=1)] = Decimal(0)
    service_tiers: dict[ServiceTier, ServiceTierRates] = Field(default_factory=dict)

    def rates(self) -> dict[str, Decimal]:
        flat = _flat_rates(self.model_dump(exclude={"meter", "sku", "service_tiers"}, exclude_none=True))
        for tier, rates in sorted(self.service_tiers.items()):
            flat |= _flat_rates(rates.model_dump(exclude_none=True), f"{tier}.")
        return flat


def _flat_rates(fields: dict[str, Any], prefix: str = "") -> dict[str, Decimal]:
    """Named rates as ``price_versions`` keeps them: a tier as ``name>threshold``."""
    flat: dict[str, Decimal] = {}
    for name, value in fields.items():
        if isinstance(value, dict):
            flat[f"{prefix}{name}"] = value["base"]
            for tier in value["tiers"]:
                flat[f"{prefix}{name}>{tier['above_input_tokens']}"] = tier["rate"]
        else:
            flat[f"{prefix}{name}"] = value
    return flat


class ToolPrice(_PriceBase):
    meter: Literal["tool"]
    per_call: Rate


class EmbeddingPrice(_PriceBase):
    meter: Literal["embedding"]
    per_mtok: Rate


class VectorQueryPrice(_PriceBase):
    meter: Literal["vector_query"]
    per_query: Rate


class ComputePrice(_PriceBase):
    meter: Literal["compute"]
    per_hour: Rate


class StoragePrice(_PriceBase):
    meter: Literal["storage"]
    per_gb_month: Rate


class HumanReviewPrice(_PriceBase):
    meter: Literal["human_review"]
    per_minute: Rate


Price = Annotated[
    LlmPrice | ToolPrice | EmbeddingPrice | VectorQueryPrice | ComputePrice | StoragePrice | HumanReviewPrice,
    Field(discriminator="meter"),
]


# Which layer a version belongs to; see the module's docstring for precedence.
Layer = Literal["list", "negotiated"]
# A fraction taken off a provider's list prices: 0.15 is 15% off, 0 ends a discount.
Discount = Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)]


class PriceVersion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
    effective_from: AwareDatetime
    currency: Literal["USD"] = "USD"
    description: str = ""
    prices: list[Price]
    # A model name as sent ("gpt4o-prod", or "provider/model") to the SKU
    # priced for it; newer versions win. See streams.pricing for the rest
    # of name resolution.
    aliases: dict[Annotated[str, Field(min_length=1, max_length=300)], Sku] = Field(default_factory=dict)
    layer: Layer = "list"
    # Negotiated only: when the agreement ends (exclusive), and the discount
    # per provider (the part of a SKU before "/", or the event's provider)
    # on list prices, for SKUs the version gives no fixed price.
    effective_until: AwareDatetime | None = None
    discounts: dict[Annotated[str, Field(min_length=1, max_length=128)], Discount] = Field(
        default_factory=dict
    )

    @field_validator("effective_from", "effective_until")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    @model_validator(mode="after")
    def _layer_fields(self) -> PriceVersion:
        if self.layer == "list" and (self.discounts or self.effective_until is not None):
            raise ValueError('discounts and effective_until belong to a "negotiated" layer version')
        if self.effective_until is not None and self.effective_until <= self.effective_from:
            raise ValueError("effective_until must be after effective_from")
        return self

    @field_validator("prices")
    @classmethod
    def _one_price_per_sku(cls, prices: list[Price]) -> list[Price]:
        seen: set[tuple[str, str]] = set()
        for price in prices:
            key = (price.meter, price.sku)
            if key in seen:
                raise ValueError(f"{price.meter} price for {price.sku!r} listed twice")
            seen.add(key)
        return prices


price_version_adapter: TypeAdapter[PriceVersion] = TypeAdapter(PriceVersion)


class PriceFileError(ValueError):
    """A price version file cannot be read or is not a valid version; names the file."""


def read_price_file(path: Path) -> PriceVersion:
    try:
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise PriceFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise PriceFileError(f"{path}: not valid JSON ({exc})") from None
    try:
        return PriceVersion.model_validate(document)
    except ValidationError as exc:
        raise PriceFileError(f"{path}: not a price version ({problems(exc, 'version')})") from None


def load_price_files(paths: Iterable[Path]) -> list[PriceVersion]:
    """Read and check every version file (JSON), oldest first; any bad file fails the whole set."""
    versions: list[PriceVersion] = []
    source: dict[str, Path] = {}
    for path in paths:
        version = read_price_file(path)
        if version.version in source:
            raise PriceFileError(
                f"{path}: version {version.version!r} is also in {source[version.version]}; "
                "a version id names one set of prices"
            )
        source[version.version] = path
        versions.append(version)
    return sorted(versions, key=lambda v: (v.effective_from, v.version))


def load_price_dir(directory: Path) -> list[PriceVersion]:
    return load_price_files(sorted(directory.glob("*.json")))
