"""Negotiated rates: an agreement with a provider wins over its list prices while in force."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.money import from_pico
from schemas.prices import PriceVersion
from streams.aggregation import fold
from streams.pricing import PriceCatalog
from tests.factories import event

JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
# 1M input and 100k output tokens: a round bill at any per-million rate.
CALL: dict[str, Any] = {"input_tokens": 1_000_000, "output_tokens": 100_000}


def list_prices(version: str, when: str, input_rate: str, output_rate: str) -> PriceVersion:
    return PriceVersion.model_validate(
        {
            "version": version,
            "effective_from": when,
            "prices": [
                {"meter": "llm", "sku": "anthropic/claude-sonnet-4-5",
                 "input_per_mtok": input_rate, "output_per_mtok": output_rate},
                {"meter": "llm", "sku": "openai/gpt-4o", "input_per_mtok": "2.50", "output_per_mtok": "10"},
            ],
        }
    )  # fmt: skip


def negotiated(version: str, when: str, **fields: Any) -> PriceVersion:
    return PriceVersion.model_validate({"version": version, "effective_from": when, "layer": "negotiated",
                                        "prices": [], **fields})  # fmt: skip


def sonnet_cost(catalog: PriceCatalog, at: str) -> D:
    return catalog.price(
        event("e", "llm", provider="anthropic", model="claude-sonnet-4-5", at=at, **CALL)
    ).cost


ANTHROPIC_15_OFF = negotiated("acme-anthropic-2026", "2026-01-01T00:00:00Z", discounts={"anthropic": "0.15"})


def test_a_provider_discount_applies_from_its_start_and_not_before() -> None:
    catalog = PriceCatalog([list_prices("list-2025", "2025-01-01T00:00:00Z", "3", "15"), ANTHROPIC_15_OFF])
    assert sonnet_cost(catalog, "2025-12-31T23:59:59Z") == D("4.5")  # $3 + $1.50 at list
    priced = catalog.price(event("e", "llm", provider="anthropic", model="claude-sonnet-4-5",
                                 at="2026-02-01T00:00:00Z", **CALL))  # fmt: skip
    assert priced.cost == D("3.825")  # 15% off $4.50
    assert priced.price_version == "list-2025+acme-anthropic-2026"
    other = catalog.price(
        event("e", "llm", provider="openai", model="gpt-4o", at="2026-02-01T00:00:00Z", **CALL)
    )
    assert other.cost == D("3.5")  # another provider pays list


def test_a_discounted_call_folds_into_its_windows_at_the_discounted_cost() -> None:
    catalog = PriceCatalog([list_prices("list-2025", "2025-01-01T00:00:00Z", "3", "15"), ANTHROPIC_15_OFF])
    priced = catalog.price(event("e", "llm", provider="anthropic", model="claude-sonnet-4-5",
                                 at="2026-02-01T00:00:00Z", **CALL))  # fmt: skip
    windows = fold([(0, 1, priced)], (3600,), {}).changed.values()
    assert {from_pico(window.cost) for window in windows} == {D("3.825")}  # not the list price's integer


def test_a_negotiated_override_outlives_a_later_list_sync() -> None:
    fixed = negotiated(
        "acme-sonnet-fixed",
        "2026-01-01T00:00:00Z",
        prices=[
            {
                "meter": "llm",
                "sku": "anthropic/claude-sonnet-4-5",
                "input_per_mtok": "2",
                "output_per_mtok": "10",
            }
        ],
    )
    catalog = PriceCatalog([list_prices("list-2025", "2025-01-01T00:00:00Z", "3", "15"), fixed])
    assert sonnet_cost(catalog, "2026-03-01T00:00:00Z") == D("3")  # $2 + $1 at the agreed rate

    # A sync in March brings a newer list price; the agreement still holds.
    catalog.add(list_prices("list-2026-03", "2026-03-01T00:00:00Z", "4", "20"))
    assert sonnet_cost(catalog, "2026-03-15T00:00:00Z") == D("3")
    assert sonnet_cost(catalog, "2025-06-01T00:00:00Z") == D("4.5")  # before the agreement: list


def test_a_discount_also_outlives_a_later_list_sync_and_applies_to_the_new_list_price() -> None:
    catalog = PriceCatalog([list_prices("list-2025", "2025-01-01T00:00:00Z", "3", "15"), ANTHROPIC_15_OFF])
    catalog.add(list_prices("list-2026-03", "2026-03-01T00:00:00Z", "4", "20"))
    assert sonnet_cost(catalog, "2026-03-15T00:00:00Z") == D("5.1")  # 15% off $6.00


def test_a_fixed_price_wins_over_the_same_providers_discount() -> None:
    both = negotiated(
        "acme-2026",
        "2026-01-01T00:00:00Z",
        discounts={"anthropic": "0.15"},
        prices=[
            {
                "meter": "llm",
                "sku": "anthropic/claude-sonnet-4-5",
                "input_per_mtok": "2",
                "output_per_mtok": "10",
            }
        ],
    )
    catalog = PriceCatalog([list_prices("list-2025", "2025-01-01T00:00:00Z", "3", "15"), both])
    assert sonnet_cost(catalog, "2026-02-01T00:00:00Z") == D("3")


def test_an_agreement_ends_at_its_effective_until() -> None:
    ending = negotiated("acme-h1", "2026-01-01T00:00:00Z", effective_until="2026-07-01T00:00:00Z",
                        discounts={"anthropic": "0.15"})  # fmt: skip
    catalog = PriceCatalog([list_prices("list-2025", "2025-01-01T00:00:00Z", "3", "15"), ending])
    assert sonnet_cost(catalog, "2026-06-30T23:59:59Z") == D("3.825")
    assert sonnet_cost(catalog, "2026-07-01T00:00:00Z") == D("4.5")


def test_a_later_agreement_replaces_an_earlier_one() -> None:
    deeper = negotiated("acme-2026-06", "2026-06-01T00:00:00Z", discounts={"anthropic": "0.25"})
    catalog = PriceCatalog(
        [list_prices("list-2025", "2025-01-01T00:00:00Z", "3", "15"), deeper, ANTHROPIC_15_OFF]
    )
    assert sonnet_cost(catalog, "2026-02-01T00:00:00Z") == D("3.825")
    assert sonnet_cost(catalog, "2026-06-02T00:00:00Z") == D("3.375")


def test_discounts_and_an_end_belong_to_the_negotiated_layer() -> None:
    with pytest.raises(ValidationError, match="negotiated"):
        PriceVersion.model_validate({"version": "v", "effective_from": JAN_1.isoformat(), "prices": [],
                                     "discounts": {"anthropic": "0.1"}})  # fmt: skip
    with pytest.raises(ValidationError, match="less than 1"):
        negotiated("v", JAN_1.isoformat(), discounts={"anthropic": "1"})
