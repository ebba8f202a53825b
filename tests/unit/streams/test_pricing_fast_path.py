"""The catalog's fast pricing costs exactly what the Decimal pricing costs, at every price in force.

Every SKU of every version in prices/ (the demo's noon change included) is
priced at the start of its version and just before the next, with counts
from none to the contract's extremes, and compared field by field with the
Decimal path (``_price_llm`` and ``_apply`` on the price ``price_at`` finds):
the same cost to the last of its 12 places, version, SKU, quantity, unit
and tokens. Events of a batch that straddle a price change, and a version
published while the catalog remembers the old one, pay each the price in
force at their own time.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from schemas.events import LlmCall, UsageEvent
from schemas.money import to_pico
from schemas.prices import EmbeddingPrice, LlmPrice, PriceVersion, ToolPrice, VectorQueryPrice
from streams.pricing import PriceCatalog, PricedEvent, _apply, _price_llm, cost_of_pico, costs_of_pico
from tests.factories import event
from tests.unit.streams.test_pricing import shipped_and_demo

MAX = 10_000_000  # the contract's MAX_COUNT; tokens go to MAX_TOKENS (10x) below


def decimal_priced(catalog: PriceCatalog, item: UsageEvent) -> PricedEvent:
    """What the Decimal path makes of ``item``: the reference the fast path must equal."""
    if isinstance(item, LlmCall):
        sku = catalog.llm_sku(item.provider, item.model)
        version, price = catalog.price_at("llm", sku, item.occurred_at)
        assert isinstance(price, LlmPrice)
        return _price_llm(item, price, version, sku)
    version, price = catalog.price_at(item.kind, _sku(item), item.occurred_at)
    return _apply(item, price, version)


def _sku(item: UsageEvent) -> str:
    return str(getattr(item, "tool", None) or getattr(item, "model", None) or item.provider)


def assert_same_cost(fast: PricedEvent, exact: PricedEvent) -> None:
    assert fast.cost == exact.cost
    assert fast.cost.as_tuple().exponent == exact.cost.as_tuple().exponent == -12
    assert fast.cost_pico is None or fast.cost_pico == to_pico(exact.cost)
    for name in ("price_version", "sku", "provider", "quantity", "unit", "tokens", "model_sent", "events"):
        assert getattr(fast, name) == getattr(exact, name), name


def events_for(meter: str, sku: str, at: datetime, rng: random.Random) -> list[UsageEvent]:
    """Events this price prices, at ``at``, with small, random and extreme counts."""
    when = at.isoformat()
    if meter == "tool":
        return [
            event(f"t{n}", "tool", tool=sku, calls=n, at=when) for n in (0, 1, 7, rng.randrange(MAX), MAX)
        ]
    if meter == "vector_query":
        counts = (0, 1, 3, rng.randrange(MAX), MAX)
        return [event(f"v{n}", "vector_query", provider=sku, queries=n, at=when) for n in counts]
    if meter == "embedding":
        counts = (0, 1, 999, rng.randrange(10 * MAX), 10 * MAX)
        return [event(f"e{n}", "embedding", model=sku, tokens=n, at=when) for n in counts]
    if meter == "llm":
        return [
            event(f"l{i}", "llm", model=sku, at=when, **tokens) for i, tokens in enumerate(llm_counts(rng))
        ]
    return []


def llm_counts(rng: random.Random) -> list[dict[str, Any]]:
    counts: list[dict[str, Any]] = [
        {"input_tokens": 0, "output_tokens": 0},
        {"input_tokens": 10 * MAX, "output_tokens": 10 * MAX, "cached_input_tokens": 10 * MAX},
    ]
    for _ in range(6):
        total_in, out = rng.randrange(10 * MAX), rng.randrange(10**6)
        cached = rng.randrange(total_in + 1)
        counts.append(
            {
                "input_tokens": total_in,
                "cached_input_tokens": cached,
                "cache_write_tokens": rng.randrange(total_in - cached + 1),
                "output_tokens": out,
                "reasoning_tokens": rng.randrange(out + 1),
            }
        )
    return counts


def in_force_times(versions: list[PriceVersion]) -> list[datetime]:
    """Each version's first instant and the last one before the next version starts."""
    starts = sorted({v.effective_from for v in versions})
    return [*starts, *(later - timedelta(microseconds=1) for later in starts[1:])]


@pytest.mark.parametrize("at", in_force_times(shipped_and_demo()), ids=str)
def test_every_sku_of_every_version_costs_what_the_decimal_pricing_costs(at: datetime) -> None:
    versions = shipped_and_demo()
    catalog = PriceCatalog(versions)
    rng = random.Random(at.timestamp())
    integers = set()
    checked = 0
    for meter, sku in sorted({(p.meter, p.sku) for v in versions for p in v.prices}):
        if not any(p.sku == sku and v.effective_from <= at for v in versions for p in v.prices):
            continue  # not priced yet at this time
        for item in events_for(meter, sku, at, rng):
            fast = catalog.price(item)
            assert_same_cost(fast, decimal_priced(catalog, item))
            checked += 1
            if fast.cost_pico is not None:
                integers.add(meter)
    assert checked > 50
    assert integers == {"llm", "tool", "vector_query", "embedding"}  # each priced in integers somewhere


def test_a_batch_straddling_the_noon_price_change_pays_each_side_its_own_price() -> None:
    catalog = PriceCatalog(shipped_and_demo())
    noon = datetime(2026, 11, 20, 12, tzinfo=UTC)
    times = [noon + timedelta(microseconds=step) for step in (-1, 0, -2, 1, -1, 3600 * 10**6, -3600 * 10**6)]
    batch = [
        item
        for i, at in enumerate(times)
        for item in (
            event(f"s{i}", "tool", tool="tavily-search", calls=3, at=at.isoformat()),
            event(f"c{i}", "llm", model="gpt-4o", input_tokens=3000, output_tokens=1000, at=at.isoformat()),
        )
    ]
    priced = [catalog.price(item) for item in batch]
    for fast, item in zip(priced, batch, strict=True):
        assert_same_cost(fast, decimal_priced(catalog, item))
    versions = {p.price_version for p in priced}
    assert versions == {"2024-10-01-list", "2026-11-20-midday"}


def test_a_version_published_after_pricing_replaces_the_remembered_price() -> None:
    versions = shipped_and_demo()
    catalog = PriceCatalog(versions)
    call = event("t", "tool", tool="tavily-search", calls=2, at="2026-11-21T00:00:00Z")
    before = catalog.price(call)
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
    after = catalog.price(call)
    assert before.cost != after.cost == Decimal("0.004")
    later = midday.model_copy(
        update={"version": "2026-11-20-evening", "effective_from": datetime(2026, 11, 20, 18, tzinfo=UTC)}
    )
    catalog.add(later)
    assert catalog.price(call).price_version == "2026-11-20-evening"


@pytest.mark.parametrize(
    ("meter", "price"),
    [
        ("tool", ToolPrice(meter="tool", sku="pricey", per_call=Decimal("999999999.999999999999"))),
        ("tool", ToolPrice(meter="tool", sku="pricey", per_call=Decimal("1E+9"))),
        ("tool", ToolPrice(meter="tool", sku="pricey", per_call=Decimal("0.0000000000001"))),
        ("vector_query", VectorQueryPrice(meter="vector_query", sku="pricey", per_query=Decimal("1E+9"))),
        ("vector_query", VectorQueryPrice(meter="vector_query", sku="pricey", per_query=Decimal("0.10"))),
        ("embedding", EmbeddingPrice(meter="embedding", sku="pricey", per_mtok=Decimal("0.0000001"))),
        ("embedding", EmbeddingPrice(meter="embedding", sku="pricey", per_mtok=Decimal("999999999.999999"))),
    ],
)
def test_rates_too_fine_or_too_large_for_exact_integers_price_in_decimal_alike(
    meter: str, price: Any
) -> None:
    version = PriceVersion(version="odd", effective_from=datetime(2026, 1, 1, tzinfo=UTC), prices=[price])
    catalog = PriceCatalog([version])
    for item in events_for(meter, "pricey", datetime(2026, 6, 1, tzinfo=UTC), random.Random(7)):
        assert_same_cost(catalog.price(item), decimal_priced(catalog, item))


@pytest.mark.parametrize("huge", [False, True])
def test_a_column_of_integer_costs_makes_each_decimal_as_cost_of_pico_does(huge: bool) -> None:
    """:func:`costs_of_pico`: the same digits and exponent as :func:`cost_of_pico`, event by event."""
    rng = random.Random(7)
    picos = [
        rng.choice((0, 1, -1, rng.randrange(-(10**15), 10**15), rng.randrange(10**27))) for _ in range(2000)
    ]
    if huge:
        picos += [10**28, 10**40 + 3, -(10**30)]
    made = costs_of_pico(picos)
    assert [str(cost) for cost in made] == [str(cost_of_pico(pico)) for pico in picos]
    assert costs_of_pico([]) == []
