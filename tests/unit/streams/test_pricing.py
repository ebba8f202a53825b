"""A price change at noon: each event pays the price in force when it happened."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from schemas.events import parse_event
from schemas.prices import PriceVersion, load_price_dir, load_price_files
from streams.pricing import PriceCatalog, UnpriceableEventError

PRICES = Path(__file__).resolve().parents[3] / "prices"
# The demo's price change at noon is not in the default catalog; these specs load it by name.
DEMO_NOON_CHANGE = PRICES / "demo" / "2026-11-20-midday.json"


def shipped_and_demo() -> list[PriceVersion]:
    return load_price_files([*sorted(PRICES.glob("*.json")), DEMO_NOON_CHANGE])


@pytest.fixture(scope="module")
def catalog() -> PriceCatalog:
    return PriceCatalog(shipped_and_demo())


def event(**fields: object) -> bytes:
    base = {
        "event_id": "e-1",
        "customer_id": "acme",
        "agent_id": "bot",
        "occurred_at": "2026-11-20T09:00:00Z",
    }
    import orjson

    return orjson.dumps(base | fields)


def test_gpt4o_call_before_and_after_the_noon_price_change(catalog: PriceCatalog) -> None:
    call = dict(
        kind="llm",
        provider="openai",
        model="gpt-4o",
        input_tokens=3000,
        cached_input_tokens=1000,
        output_tokens=1000,
    )
    morning = catalog.price(parse_event(event(**call, occurred_at="2026-11-20T11:59:59.999999Z")))
    afternoon = catalog.price(parse_event(event(**call, occurred_at="2026-11-20T12:00:00Z")))
    # 2,000 uncached at $2.50/M + 1,000 cached at $1.25/M + 1,000 output at $10/M
    assert morning.cost == Decimal("0.01625")
    assert morning.price_version == "2024-10-01-list"
    # after noon: $2.00, $1.00 and $8.00 per million
    assert afternoon.cost == Decimal("0.013")
    assert afternoon.price_version == "2026-11-20-midday"


def test_prices_not_changed_at_noon_carry_over(catalog: PriceCatalog) -> None:
    priced = catalog.price(
        parse_event(event(kind="tool", tool="perplexity-search", calls=3, occurred_at="2026-11-20T15:00:00Z"))
    )
    assert priced.cost == Decimal("0.015")
    assert priced.price_version == "2024-10-01-list"


def test_cache_writes_reasoning_and_batch_discount(catalog: PriceCatalog) -> None:
    priced = catalog.price(
        parse_event(
            event(
                kind="llm",
                provider="anthropic",
                model="claude-sonnet-4",
                input_tokens=10_000,
                cached_input_tokens=6_000,
                cache_write_tokens=2_000,
                output_tokens=1_000,
                reasoning_tokens=400,
                batch=True,
            )
        )
    )
    # (2,000 × 3 + 6,000 × 0.30 + 2,000 × 3.75 + 1,000 × 15) / 1M = 0.0303, then half off
    assert priced.cost == Decimal("0.01515")
    assert priced.tokens.reasoning == 400


def test_every_meter_prices_exactly(catalog: PriceCatalog) -> None:
    cases = {
        "embedding": (dict(model="text-embedding-3-small", tokens=1_500), Decimal("0.00003")),
        "vector_query": (dict(provider="pinecone", queries=3), Decimal("0.000048")),
        # an hour of a $0.04/h container; 90 s is $0.001
        "compute": (dict(sku="fargate-1vcpu-2gb", seconds="90"), Decimal("0.001")),
        # 20 GB for a full 730-hour month at $0.023/GB-month
        "storage": (dict(sku="s3-standard", bytes=20 * 10**9, seconds=str(730 * 3600)), Decimal("0.46")),
        "human_review": (dict(sku="support-agent", minutes="4.5"), Decimal("2.25")),
    }
    for kind, (fields, expected) in cases.items():
        assert catalog.price(parse_event(event(kind=kind, **fields))).cost == expected, kind


def test_prorated_compute_rounds_half_even_at_the_twelfth_place(catalog: PriceCatalog) -> None:
    priced = catalog.price(parse_event(event(kind="compute", sku="fargate-1vcpu-2gb", seconds="1")))
    assert priced.cost == Decimal("0.000011111111")  # 0.04 / 3600


def test_outcomes_cost_nothing(catalog: PriceCatalog) -> None:
    priced = catalog.price(parse_event(event(kind="outcome", outcome_type="ticket_resolved")))
    assert priced.cost == 0 and priced.quantity == 1


def test_unknown_model_is_unpriceable_not_free(catalog: PriceCatalog) -> None:
    with pytest.raises(UnpriceableEventError, match="gpt-9"):
        catalog.price(
            parse_event(event(kind="llm", provider="openai", model="gpt-9", input_tokens=1, output_tokens=1))
        )


def test_event_before_any_price_is_unpriceable(catalog: PriceCatalog) -> None:
    with pytest.raises(UnpriceableEventError, match="in force"):
        catalog.price(parse_event(event(kind="tool", tool="twilio-sms", occurred_at="2020-01-01T00:00:00Z")))


def test_republished_version_replaces_the_old_one() -> None:
    versions = shipped_and_demo()
    catalog = PriceCatalog(versions)
    midday = versions[-1]
    cheaper = midday.model_copy(
        update={
            "prices": [
                p.model_copy(update={"per_call": Decimal("0.002")}) if p.meter == "tool" else p
                for p in midday.prices
            ]
        }
    )
    catalog.add(cheaper)
    version, price = catalog.price_at("tool", "tavily-search", datetime(2026, 11, 21, tzinfo=UTC))
    assert version == midday.version and price.per_call == Decimal("0.002")  # type: ignore[union-attr]


def test_the_default_catalog_has_no_demo_price_change() -> None:
    assert [v.version for v in load_price_dir(PRICES)] == ["2024-10-01-list"]


LONG_CONTEXT = PriceVersion.model_validate(
    {
        "version": "long-context",
        "effective_from": "2025-01-01T00:00:00Z",
        "prices": [
            {
                "meter": "llm",
                "sku": "anthropic/claude-sonnet-4-5",
                "input_per_mtok": {
                    "base": "3",
                    "tiers": [{"above_input_tokens": 200_000, "rate": "6"}],
                    "rule": "whole_request",
                },
                "output_per_mtok": {
                    "base": "15",
                    "tiers": [{"above_input_tokens": 200_000, "rate": "22.5"}],
                    "rule": "whole_request",
                },
                "cached_input_per_mtok": "0.30",
                "per_request": "0.001",
                "service_tiers": {
                    "batch": {"input_per_mtok": "1.5", "output_per_mtok": "7.5"},
                    "flex": {"input_per_mtok": "1.25", "output_per_mtok": "5"},
                },
            },
            {
                "meter": "llm",
                "sku": "gpt-4o",
                "input_per_mtok": "2.50",
                "output_per_mtok": "10",
                "batch_discount": "0.5",
            },
        ],
        "aliases": {"sonnet-prod": "anthropic/claude-sonnet-4-5"},
    }
)


def call(model: str = "claude-sonnet-4-5", provider: str = "anthropic", **fields: object) -> bytes:
    return event(kind="llm", provider=provider, model=model, **{"output_tokens": 1000, **fields})


def test_a_prompt_at_its_threshold_pays_the_base_rate_and_one_token_more_pays_the_tier_on_everything() -> (
    None
):
    catalog = PriceCatalog([LONG_CONTEXT])
    at_threshold = catalog.price(parse_event(call(input_tokens=200_000)))
    above = catalog.price(parse_event(call(input_tokens=200_001)))
    # 200,000 × $3 + 1,000 × $15 per M, plus the $0.001 request fee
    assert at_threshold.cost == Decimal("0.616")
    # the whole request at the tier: 200,001 × $6 + 1,000 × $22.50 per M, plus the fee
    assert above.cost == Decimal("1.223506")


def test_the_tier_counts_cached_tokens_as_part_of_the_prompt() -> None:
    catalog = PriceCatalog([LONG_CONTEXT])
    priced = catalog.price(parse_event(call(input_tokens=250_000, cached_input_tokens=100_000)))
    # 150,000 × $6 + 100,000 × $0.30 (cached has no tier) + 1,000 × $22.50, plus the fee
    assert priced.cost == Decimal("0.9535")


def test_batch_and_flex_calls_pay_their_own_rates() -> None:
    catalog = PriceCatalog([LONG_CONTEXT])
    batch = catalog.price(parse_event(call(input_tokens=10_000, batch=True)))
    flex = catalog.price(parse_event(call(input_tokens=10_000, service_tier="flex")))
    priority = catalog.price(parse_event(call(input_tokens=10_000, service_tier="priority")))
    assert batch.cost == Decimal("0.0235")  # 10,000 × $1.50 + 1,000 × $7.50 per M + $0.001
    assert flex.cost == Decimal("0.0185")  # 10,000 × $1.25 + 1,000 × $5 per M + $0.001
    assert priority.cost == Decimal("0.046")  # no priority rates listed: the standard ones
    spelled_out = catalog.price(parse_event(call(input_tokens=10_000, service_tier="batch")))
    assert spelled_out.cost == batch.cost


def test_a_batch_discount_applies_where_a_price_has_no_batch_rates() -> None:
    catalog = PriceCatalog([LONG_CONTEXT])
    batch = catalog.price(parse_event(call("gpt-4o", "openai", input_tokens=10_000, service_tier="batch")))
    assert batch.cost == Decimal("0.0175")  # (10,000 × $2.50 + 1,000 × $10 per M) / 2


def test_an_alias_the_user_added_names_the_sku_and_the_ledger_keeps_both() -> None:
    catalog = PriceCatalog([LONG_CONTEXT])
    priced = catalog.price(parse_event(call("sonnet-prod", "internal-gateway", input_tokens=1)))
    assert priced.sku == "anthropic/claude-sonnet-4-5"
    assert priced.model_sent == "sonnet-prod"


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("anthropic", "claude-sonnet-4-5-20250929"),
        ("anthropic", "anthropic/claude-sonnet-4-5"),
        ("litellm", "anthropic/claude-sonnet-4-5"),
        ("", "claude-sonnet-4-5"),
    ],
)
def test_snapshots_and_provider_prefixes_resolve_to_the_catalog_sku(provider: str, model: str) -> None:
    catalog = PriceCatalog([LONG_CONTEXT])
    priced = catalog.price(parse_event(call(model, provider or "unknown-gateway", input_tokens=1)))
    assert priced.sku == "anthropic/claude-sonnet-4-5"


def test_a_dated_snapshot_resolves_to_a_hand_written_sku_too() -> None:
    catalog = PriceCatalog([LONG_CONTEXT])
    priced = catalog.price(parse_event(call("gpt-4o-2024-08-06", "openai", input_tokens=1000)))
    assert priced.sku == "gpt-4o" and priced.model_sent == "gpt-4o-2024-08-06"


def test_a_conflicting_batch_flag_and_service_tier_is_refused() -> None:
    with pytest.raises(ValueError, match="service_tier"):
        parse_event(call(input_tokens=1, batch=True, service_tier="flex"))
