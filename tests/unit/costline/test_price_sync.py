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
from schemas.prices import LlmPrice, TieredRate
from streams.pricing import PriceCatalog

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
