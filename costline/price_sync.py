"""Price versions from genai-prices' data: every provider's LLM prices with their history.

The source (the pinned ``genai-prices`` package's bundled data, or a newer
data file of the same format) lists, per provider, models with their token
rates, possibly tiered by prompt size, possibly changing on dated
``start_date``s, with variants for batch, flex and priority calls. Each
distinct (provider, date) becomes one ordinary :class:`PriceVersion`,
``genai-prices:<provider>:<date>``, listing the models whose price changes
that day, so the history is kept and an event pays the rate in force at
its own time. A model's first price is in force from :data:`SOURCE_EPOCH`:
the source applies it to any earlier time.

Prices are read by asking the source itself (``ModelInfo.get_prices``) at
each date a model's price could change, so its own precedence rules hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from genai_prices.types import (
    ModelInfo,
    ModelPrice,
    Provider,
    StartDateConstraint,
    TieredPrices,
    TimeOfDateConstraint,
)

from schemas.events import ServiceTier
from schemas.prices import (
    LlmPrice,
    Price,
    PriceFileError,
    PriceVersion,
    ServiceTierRates,
    Tier,
    TieredRate,
    synced_sku,
)

SOURCE_EPOCH = date(1970, 1, 1)
VERSION_PREFIX = "genai-prices:"

# The source's request context for each service tier an event can carry.
_TIER_CONTEXT: dict[ServiceTier, dict[str, str]] = {
    "batch": {"processing": "batch"},
    "flex": {"service_tier": "flex"},
    "priority": {"service_tier": "priority"},
}
# Source price key -> our rate name. Other keys (video tokens, audio hours,
# searches, pages) are charged on usage an llm event does not report.
_TOKEN_RATES = {
    "input_mtok": "input_per_mtok",
    "output_mtok": "output_per_mtok",
    "cache_read_mtok": "cached_input_per_mtok",
    "cache_write_mtok": "cache_write_per_mtok",
    "input_audio_mtok": "input_audio_per_mtok",
    "cache_audio_read_mtok": "cached_audio_input_per_mtok",
    "output_audio_mtok": "output_audio_per_mtok",
    "input_image_mtok": "input_image_per_mtok",
    "cache_image_read_mtok": "cached_image_input_per_mtok",
    "output_image_mtok": "output_image_per_mtok",
}
_PLAIN_RATES = {"output_reasoning_mtok": "reasoning_per_mtok"}


class PriceSourceError(PriceFileError):
    """The data file cannot be read or is not genai-prices data; names the file."""


@dataclass(frozen=True)
class SkippedModel:
    sku: str
    reason: str


@dataclass(frozen=True)
class SyncedCatalog:
    versions: list[PriceVersion]
    skipped: list[SkippedModel]
    models: int


@dataclass(frozen=True)
class SyncPlan:
    """What a sync changes against the versions already recorded."""

    new_versions: list[PriceVersion] = field(default_factory=list)
    changed_versions: list[PriceVersion] = field(default_factory=list)
    new_skus: list[str] = field(default_factory=list)
    changed_rates: list[tuple[str, str, dict[str, Decimal], dict[str, Decimal]]] = field(default_factory=list)

    @property
    def to_publish(self) -> list[PriceVersion]:
        return [*self.new_versions, *self.changed_versions]


def bundled_source() -> list[Provider]:
    from genai_prices.data import providers

    return providers


def source_from_file(path: Path) -> list[Provider]:
    """A genai-prices data file (``prices/new_data/v2/data.json`` in its repository)."""
    from genai_prices.types import _providers_from_raw

    try:
        raw = json.loads(path.read_bytes(), parse_float=Decimal)  # rates never pass through float
    except OSError as exc:
        raise PriceSourceError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise PriceSourceError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(raw, list):
        raise PriceSourceError(f"{path}: not genai-prices data (expected a list of providers)")
    try:
        return _providers_from_raw(raw)
    except ValueError as exc:  # pydantic's ValidationError included
        first = str(exc).splitlines()[0]
        raise PriceSourceError(f"{path}: not genai-prices data ({first})") from None


def synced_versions(providers: Iterable[Provider]) -> SyncedCatalog:
    versions: list[PriceVersion] = []
    skipped: list[SkippedModel] = []
    models = 0
    for provider in providers:
        by_date: dict[date, list[LlmPrice]] = {}
        for model in provider.models:
            models += 1
            sku = synced_sku(provider.id, model.id)
            history = _history(sku, model)
            if isinstance(history, str):
                skipped.append(SkippedModel(sku, history))
                continue
            for day, price in history:
                by_date.setdefault(day, []).append(price)
        versions += [_version(provider, day, prices) for day, prices in sorted(by_date.items())]
    return SyncedCatalog(versions, skipped, models)


def _version(provider: Provider, day: date, prices: list[LlmPrice]) -> PriceVersion:
    return PriceVersion(
        version=f"{VERSION_PREFIX}{provider.id}:{day.isoformat()}",
        effective_from=datetime(day.year, day.month, day.day, tzinfo=UTC),
        description=f"{provider.name} list prices from genai-prices"
        + ("" if day == SOURCE_EPOCH else f", changed {day.isoformat()}"),
        prices=list[Price](prices),
    )


def _history(sku: str, model: ModelInfo) -> list[tuple[date, LlmPrice]] | str:
    """(day, price) at each day the price changes, or why the model cannot be priced here."""
    constraints = [c.constraint for c in model.prices] if isinstance(model.prices, list) else []
    constraints += [v.constraint for v in model.price_variants or ()]
    if any(isinstance(c, TimeOfDateConstraint) for c in constraints):
        return "priced by time of day (off-peak hours), which a dated version cannot state"
    days = sorted({SOURCE_EPOCH, *(c.start_date for c in constraints if isinstance(c, StartDateConstraint))})
    history: list[tuple[date, LlmPrice]] = []
    for day in days:
        at = datetime(day.year, day.month, day.day, tzinfo=UTC)
        price = _llm_price(sku, model, at)
        if isinstance(price, str):
            return price
        if not history or history[-1][1] != price:
            history.append((day, price))
    return history


def _llm_price(sku: str, model: ModelInfo, at: datetime) -> LlmPrice | str:
    standard = _rates(model.get_prices(at))
    if isinstance(standard, str):
        return standard
    if "input_per_mtok" not in standard or "output_per_mtok" not in standard:
        return "not priced per input and output token (audio, characters, pages or embeddings)"
    service_tiers: dict[ServiceTier, ServiceTierRates] = {}
    for tier, context in _TIER_CONTEXT.items():
        rates = _rates(model.get_prices(at, context))
        if isinstance(rates, str):
            return rates
        own = {name: rate for name, rate in rates.items() if standard.get(name) != rate}
        reasoning = own.pop("reasoning_per_mtok", None)
        if reasoning is not None:
            return f"a {tier} reasoning rate of its own, which a service tier cannot state"
        if own:
            service_tiers[tier] = ServiceTierRates.model_validate(own)
    return LlmPrice.model_validate({"meter": "llm", "sku": sku, **standard, "service_tiers": service_tiers})


def _rates(price: ModelPrice) -> dict[str, Any] | str:
    rates: dict[str, Any] = {}
    for key, name in _TOKEN_RATES.items():
        value = getattr(price, key, None)
        if value is not None:
            rates[name] = _token_rate(value)
    for key, name in _PLAIN_RATES.items():
        value = getattr(price, key, None)
        if isinstance(value, TieredPrices):
            return f"a tiered {key}, which the price model keeps plain"
        if value is not None:
            rates[name] = _decimal(value)
    requests = getattr(price, "requests_kcount", None)
    if isinstance(requests, TieredPrices):
        return "a tiered per-request fee"
    if requests is not None:
        rates["per_request"] = _decimal(requests) / 1000  # exact: a power of ten
    return rates


def _token_rate(value: Decimal | TieredPrices) -> Decimal | TieredRate:
    if not isinstance(value, TieredPrices):
        return _decimal(value)
    tiers = [Tier(above_input_tokens=t.start, rate=_decimal(t.price)) for t in value.tiers]
    # genai-prices charges the whole request at the tier's rate once the prompt passes it (its PR #242).
    return TieredRate(base=_decimal(value.base), tiers=tiers, rule="whole_request")


def _decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def plan_sync(
    synced: Sequence[PriceVersion], recorded: Mapping[tuple[str, str], dict[str, Decimal]]
) -> SyncPlan:
    """Compare synced versions with the recorded ones: ``recorded[(version, sku)]`` is a price's rates."""
    plan = SyncPlan()
    recorded_versions = {version for version, _ in recorded}
    recorded_skus = {sku for _, sku in recorded}
    for version in synced:
        if version.version not in recorded_versions:
            plan.new_versions.append(version)
        changed = False
        for price in version.prices:
            if price.sku not in recorded_skus and price.sku not in plan.new_skus:
                plan.new_skus.append(price.sku)
            old = recorded.get((version.version, price.sku))
            if version.version in recorded_versions and old != price.rates():
                plan.changed_rates.append((version.version, price.sku, old or {}, price.rates()))
                changed = True
        if changed:
            plan.changed_versions.append(version)
    return plan
