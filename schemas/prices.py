"""The versioned price catalog.

A :class:`PriceVersion` is a dated set of unit prices. Versions stack: to
price an event, take, for the event's meter and SKU, the price from the
newest version whose ``effective_from`` is at or before the event's own
``occurred_at``. A version therefore only needs to list the prices it
changes. All prices are ``Decimal`` in the version's currency.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

Rate = Annotated[Decimal, Field(ge=0, le=Decimal(10**9), allow_inf_nan=False)]
Sku = Annotated[str, Field(min_length=1, max_length=128)]


class _PriceBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sku: Sku


class LlmPrice(_PriceBase):
    """Per million tokens. Optional rates fall back to the plain ones."""

    meter: Literal["llm"]
    input_per_mtok: Rate
    output_per_mtok: Rate
    cached_input_per_mtok: Rate | None = None
    cache_write_per_mtok: Rate | None = None
    reasoning_per_mtok: Rate | None = None
    # Fraction taken off every token rate for batch-API calls (0.5 = half price).
    batch_discount: Annotated[Decimal, Field(ge=0, lt=1)] = Decimal(0)


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


class PriceVersion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
    effective_from: AwareDatetime
    currency: Literal["USD"] = "USD"
    description: str = ""
    prices: list[Price]

    @field_validator("effective_from")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

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
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'version'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise PriceFileError(f"{path}: not a price version ({problems})") from None


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
