"""Integer pico-dollar LLM pricing costs exactly what the Decimal pricing costs, or is not used."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from bench.workload import events
from schemas.events import LlmCall, parse_event
from schemas.prices import LlmPrice, TieredRate
from streams.pico_rates import text_rates
from streams.pricing import PriceCatalog, _price_llm, _price_llm_pico
from tests.factories import event
from tests.unit.streams.test_pricing import shipped_and_demo


def every_llm_price() -> list[tuple[str, LlmPrice]]:
    return [(v.version, p) for v in shipped_and_demo() for p in v.prices if isinstance(p, LlmPrice)]


def text_calls(seed: int, n: int) -> list[dict[str, int]]:
    """Token counts from none to the contract's extremes, every part within its total."""
    rng = random.Random(seed)
    calls = [{"input_tokens": 0, "output_tokens": 0}, {"input_tokens": 10**7, "output_tokens": 10**7}]
    for _ in range(n):
        total_in = rng.choice([1, 999, 10**6 + 1, rng.randrange(0, 10**7)])
        cached = rng.randrange(0, total_in + 1)
        out = rng.randrange(0, 10**6)
        calls.append(
            {
                "input_tokens": total_in,
                "cached_input_tokens": cached,
                "cache_write_tokens": rng.randrange(0, total_in - cached + 1),
                "output_tokens": out,
                "reasoning_tokens": rng.randrange(0, out + 1),
            }
        )
    return calls


@pytest.mark.parametrize(("version", "price"), every_llm_price(), ids=lambda v: getattr(v, "sku", v))
def test_every_shipped_price_costs_the_same_in_integers(version: str, price: LlmPrice) -> None:
    rates = text_rates(price)
    if rates is None:
        return  # priced in Decimal only
    for tokens in text_calls(seed=len(price.sku), n=50):
        call = event("e", "llm", provider="openai", model=price.sku, **tokens)
        assert isinstance(call, LlmCall)
        exact = _price_llm(call, price, version, price.sku).cost
        fast = _price_llm_pico(call, rates, version, price.sku).cost
        assert fast == exact and str(fast) == str(exact)


def test_the_workload_costs_the_same_as_in_decimal() -> None:
    catalog = PriceCatalog(shipped_and_demo())
    for _, raw in events(5_000):
        priced = catalog.price(parse_event(raw))
        call = priced.event
        if isinstance(call, LlmCall):
            _, price = catalog.price_at("llm", priced.sku, call.occurred_at)
            assert isinstance(price, LlmPrice)
            assert priced.cost == _price_llm(call, price, priced.price_version, priced.sku).cost


@pytest.mark.parametrize("rate", ["0.0000001", "1.0000005", "123456789." + "1" * 60])
def test_a_rate_finer_than_a_pico_dollar_a_token_keeps_decimal(rate: str) -> None:
    price = LlmPrice(meter="llm", sku="m", input_per_mtok=Decimal(rate), output_per_mtok=Decimal(1))
    assert text_rates(price) is None


def test_a_tiered_rate_keeps_decimal() -> None:
    tiered = TieredRate.model_validate(
        {"base": "1", "tiers": [{"above_input_tokens": 200_000, "rate": "2"}], "rule": "whole_request"}
    )
    price = LlmPrice(meter="llm", sku="m", input_per_mtok=tiered, output_per_mtok=Decimal(1))
    assert text_rates(price) is None


def test_whole_rates_are_pico_dollars_per_token() -> None:
    price = LlmPrice(
        meter="llm", sku="m", input_per_mtok=Decimal("2.5"), output_per_mtok=Decimal("10"),
        cached_input_per_mtok=Decimal("1.25"), reasoning_per_mtok=Decimal("0.000001"),
    )  # fmt: skip
    rates = text_rates(price)
    assert rates is not None
    assert (rates.input, rates.cached_input, rates.cache_write, rates.output, rates.reasoning) == (
        2_500_000, 1_250_000, 2_500_000, 10_000_000, 1,
    )  # fmt: skip
