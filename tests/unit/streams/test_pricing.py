"""A price change at noon: each event pays the price in force when it happened."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from schemas.events import parse_event
from schemas.prices import load_price_dir
from streams.pricing import PriceCatalog, UnpriceableEventError

PRICES = Path(__file__).resolve().parents[3] / "prices"


@pytest.fixture(scope="module")
def catalog() -> PriceCatalog:
    return PriceCatalog(load_price_dir(PRICES))


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
    versions = load_price_dir(PRICES)
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
