"""Prices synced from genai-prices: every model, its history, its tiers, and the same costs as the source."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from genai_prices import Usage, calc_price
from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import ModelInfo, Provider

from costline.price_sync import (
    SOURCE_EPOCH,
    SyncedCatalog,
    bundled_source,
    plan_sync,
    synced_versions,
)
from schemas.events import ServiceTier, parse_event
from schemas.prices import MEDIA_RATES, LlmPrice, TieredRate
from streams.pricing import PriceCatalog, UnpriceableEventError

TOLERANCE = Decimal("1e-9")
SINCE = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = datetime(2027, 1, 1, tzinfo=UTC)
SOURCE_CONTEXT: dict[ServiceTier, dict[str, str]] = {
    "batch": {"processing": "batch"},
    "flex": {"service_tier": "flex"},
    "priority": {"service_tier": "priority"},
}


@pytest.fixture(scope="module")
def synced() -> SyncedCatalog:
    return synced_versions(bundled_source())


@pytest.fixture(scope="module")
def catalog(synced: SyncedCatalog) -> PriceCatalog:
    return PriceCatalog(synced.versions)


def llm_price(synced: SyncedCatalog, sku: str) -> list[tuple[str, LlmPrice]]:
    return [
        (v.version, p) for v in synced.versions for p in v.prices if p.sku == sku and isinstance(p, LlmPrice)
    ]


def test_every_provider_and_token_priced_model_is_synced(synced: SyncedCatalog) -> None:
    skus = {p.sku for v in synced.versions for p in v.prices}
    assert synced.models == sum(len(p.models) for p in bundled_source())
    assert len(skus) + len(synced.skipped) == synced.models
    assert len(skus) > 2000
    assert {
        "openai/gpt-4o",
        "anthropic/claude-sonnet-4-5",
        "google/gemini-2.5-pro",
        "x-ai/grok-4-0709",
    } <= skus


def test_each_dated_change_is_its_own_version_and_the_first_price_holds_from_the_epoch(
    synced: SyncedCatalog,
) -> None:
    history = llm_price(synced, "anthropic/claude-sonnet-4-5")
    versions = [version for version, _ in history]
    assert versions[0] == f"genai-prices:anthropic:{SOURCE_EPOCH.isoformat()}"
    assert versions == sorted(versions)
    prices = [p for _, p in history]
    assert all(a != b for a, b in itertools.pairwise(prices))  # a version only where it changes


def test_long_context_tiers_state_their_rule(synced: SyncedCatalog) -> None:
    [(_, first), *_] = llm_price(synced, "anthropic/claude-sonnet-4-5")
    assert isinstance(first.input_per_mtok, TieredRate)
    assert first.input_per_mtok.rule == "whole_request"
    assert first.input_per_mtok.tiers[0].above_input_tokens == 200_000


def test_models_priced_by_time_of_day_are_skipped_with_the_reason(synced: SyncedCatalog) -> None:
    reasons = {s.sku: s.reason for s in synced.skipped}
    assert "time of day" in reasons["deepseek/deepseek-chat"]


def test_a_dry_run_plan_names_new_models_changed_rates_and_new_versions(synced: SyncedCatalog) -> None:
    first = synced.versions[0]
    [price, *_] = first.prices
    recorded = {(first.version, p.sku): p.rates() for p in first.prices}
    recorded[(first.version, price.sku)] = {**price.rates(), "input_per_mtok": Decimal("999")}
    plan = plan_sync(synced.versions, recorded)
    assert plan.changed_versions == [first]
    [(version, sku, old, new)] = plan.changed_rates
    assert (version, sku, old["input_per_mtok"]) == (first.version, price.sku, Decimal("999"))
    assert new == price.rates()
    assert first not in plan.new_versions and len(plan.new_versions) == len(synced.versions) - 1
    assert price.sku not in plan.new_skus and "openai/gpt-4o" in plan.new_skus


def test_a_second_sync_of_the_same_data_changes_nothing(synced: SyncedCatalog) -> None:
    recorded = {(v.version, p.sku): p.rates() for v in synced.versions for p in v.prices}
    plan = plan_sync(synced.versions, recorded)
    assert plan.to_publish == [] and plan.new_skus == [] and plan.changed_rates == []


def oracle_models(
    catalog: PriceCatalog, synced: SyncedCatalog
) -> tuple[list[tuple[Provider, ModelInfo, bool]], dict[str, str]]:
    """Every (provider, model) both know, whether ``calc_price`` finds it by id; the models left out, why."""
    reasons = {skipped.sku: skipped.reason for skipped in synced.skipped}
    snapshot = get_snapshot()
    known: list[tuple[Provider, ModelInfo, bool]] = []
    excluded: dict[str, str] = {}
    for provider in snapshot.providers:
        for model in provider.models:
            sku = f"{provider.id}/{model.id}"
            if catalog.llm_sku(provider.id, model.id) != sku:
                excluded[sku] = reasons[sku]
                continue
            try:
                _, found = snapshot.find_provider_model(model.id, None, provider.id, None)
            except LookupError:
                found = None
            known.append((provider, model, found is model))
    return known, excluded


def test_oracle_every_synced_model_costs_what_genai_prices_says(
    catalog: PriceCatalog, synced: SyncedCatalog
) -> None:
    rng = random.Random(9)
    known, excluded = oracle_models(catalog, synced)
    assert len(known) + len(excluded) == sum(len(p.models) for p in get_snapshot().providers)
    assert {reason.split(",")[0] for reason in excluded.values()} <= {
        "not priced per input and output token (audio",
        "priced by time of day (off-peak hours)",
    }
    span = (UNTIL - SINCE).total_seconds()
    for n, (source_provider, source_model, found_by_id) in enumerate(known):
        provider, model = source_provider.id, source_model.id
        for sample in range(4):
            at = SINCE + timedelta(seconds=rng.uniform(0, span))
            total = rng.choice([rng.randint(0, 5_000), rng.randint(0, 400_000), 200_000, 200_001, 272_001])
            cached = rng.randint(0, total // 2)
            written = rng.randint(0, total - cached) if rng.random() < 0.5 else 0
            output = rng.randint(0, 20_000)
            tier: ServiceTier | None = rng.choice([None, None, "batch", "flex", "priority"])
            event = {
                "kind": "llm", "event_id": f"o-{n}-{sample}", "customer_id": "acme", "agent_id": "bot",
                "occurred_at": at.isoformat(), "provider": provider, "model": model,
                "input_tokens": total, "cached_input_tokens": cached, "cache_write_tokens": written,
                "output_tokens": output,
            } | ({"service_tier": tier} if tier else {})  # fmt: skip
            ours = catalog.price(parse_event(orjson.dumps(event))).cost
            usage = Usage(
                input_tokens=total, cache_read_tokens=cached, cache_write_tokens=written, output_tokens=output
            )
            context = SOURCE_CONTEXT[tier] if tier else None
            if found_by_id:
                theirs = calc_price(
                    usage, model, provider_id=provider, genai_request_timestamp=at, price_context=context
                ).total_price
            else:  # 85 ids (Bedrock "regional." ones, some Fireworks) the source's own lookup does not find
                calculation = source_model.calc_price(
                    usage, source_provider, genai_request_timestamp=at, price_context=context
                )
                theirs = calculation.total_price
            assert abs(ours - theirs) <= TOLERANCE, (provider, model, event, ours, theirs)


def test_audio_and_image_rates_are_synced_where_the_source_has_them(synced: SyncedCatalog) -> None:
    (_, realtime), *_ = llm_price(synced, "openai/gpt-realtime")
    assert realtime.input_audio_per_mtok is not None and realtime.cached_audio_input_per_mtok is not None
    assert realtime.output_audio_per_mtok is not None and realtime.input_image_per_mtok is not None
    *_, (_, gemini) = llm_price(synced, "google/gemini-2.5-flash")
    assert "batch.input_audio_per_mtok" in gemini.rates()  # a service tier's own audio rate, today
    assert all(
        price.input_audio_per_mtok is None and price.output_audio_per_mtok is None
        for _, price in llm_price(synced, "openai/gpt-4o")
    )


def test_a_synced_model_without_an_audio_rate_dead_letters_audio_tokens(catalog: PriceCatalog) -> None:
    sent = {
        "kind": "llm", "event_id": "a-1", "customer_id": "acme", "agent_id": "bot",
        "occurred_at": "2026-01-05T00:00:00Z", "provider": "openai", "model": "gpt-4o",
        "input_tokens": 1000, "input_audio_tokens": 400, "output_tokens": 10,
    }  # fmt: skip
    call = parse_event(orjson.dumps(sent))
    with pytest.raises(UnpriceableEventError, match=r"^openai/gpt-4o has no audio input price in version "):
        catalog.price(call)


# genai-prices' usage key for each of our media counts, as its calc_price reads them.
SOURCE_MEDIA_USAGE = {
    "input_audio_tokens": "input_audio_tokens",
    "cached_audio_input_tokens": "cache_audio_read_tokens",
    "output_audio_tokens": "output_audio_tokens",
    "input_image_tokens": "input_image_tokens",
    "cached_image_input_tokens": "cache_image_read_tokens",
    "output_image_tokens": "output_image_tokens",
}


def media_usage(rng: random.Random, priced: set[str]) -> dict[str, int]:
    """A random call's counts, with audio and image parts only of the kinds its price has rates for."""

    def part(rate: str, most: int) -> int:
        return rng.randint(0, most) if rate in priced else 0

    text, cached_text, written = rng.randint(0, 50_000), rng.randint(0, 20_000), rng.randint(0, 5_000)
    audio, cached_audio = part("input_audio_per_mtok", 50_000), part("cached_audio_input_per_mtok", 20_000)
    image, cached_image = part("input_image_per_mtok", 50_000), part("cached_image_input_per_mtok", 20_000)
    out_audio, out_image = part("output_audio_per_mtok", 20_000), part("output_image_per_mtok", 20_000)
    return {
        "input_tokens": text + cached_text + written + audio + cached_audio + image + cached_image,
        "cached_input_tokens": cached_text + cached_audio + cached_image,
        "cache_write_tokens": written,
        "output_tokens": rng.randint(0, 5_000) + out_audio + out_image,
        "input_audio_tokens": audio + cached_audio,
        "cached_audio_input_tokens": cached_audio,
        "output_audio_tokens": out_audio,
        "input_image_tokens": image + cached_image,
        "cached_image_input_tokens": cached_image,
        "output_image_tokens": out_image,
    }


def test_oracle_audio_and_image_tokens_cost_what_genai_prices_says(
    catalog: PriceCatalog, synced: SyncedCatalog
) -> None:
    rng = random.Random(99)
    media_skus = {
        price.sku
        for version in synced.versions
        for price in version.prices
        if any(name.split(">")[0].split(".")[-1] in MEDIA_RATES for name in price.rates())
    }
    known, _ = oracle_models(catalog, synced)
    models = [(p, m) for p, m, _ in known if f"{p.id}/{m.id}" in media_skus]
    assert len(models) >= 25
    span = (UNTIL - SINCE).total_seconds()
    for n, (source_provider, source_model) in itertools.product(range(12), models):
        provider, model = source_provider.id, source_model.id
        at = SINCE + timedelta(seconds=rng.uniform(0, span))
        tier: ServiceTier | None = rng.choice([None, None, "batch", "flex", "priority"])
        _, price = catalog.price_at("llm", f"{provider}/{model}", at)
        assert isinstance(price, LlmPrice)
        own = price.service_tiers.get(tier) if tier else None
        rates = {name: getattr(own, name, None) or getattr(price, name) for name in MEDIA_RATES}
        priced = {name for name, rate in rates.items() if rate is not None}
        counts = media_usage(rng, priced)
        event = {
            "kind": "llm", "event_id": f"m-{n}", "customer_id": "acme", "agent_id": "bot",
            "occurred_at": at.isoformat(), "provider": provider, "model": model, **counts,
        } | ({"service_tier": tier} if tier else {})  # fmt: skip
        ours = catalog.price(parse_event(orjson.dumps(event))).cost
        usage = Usage(
            input_tokens=counts["input_tokens"],
            cache_read_tokens=counts["cached_input_tokens"],
            cache_write_tokens=counts["cache_write_tokens"],
            output_tokens=counts["output_tokens"],
            **{theirs: counts[name] for name, theirs in SOURCE_MEDIA_USAGE.items()},
        )
        context = SOURCE_CONTEXT[tier] if tier else None
        theirs = source_model.calc_price(
            usage, source_provider, genai_request_timestamp=at, price_context=context
        ).total_price
        assert abs(ours - theirs) <= TOLERANCE, (provider, model, event, ours, theirs)
