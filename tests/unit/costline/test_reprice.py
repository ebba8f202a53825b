"""A reprice's dry run: what each customer's usage costs now against what the ledger holds."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from costline.reprice import correction_id, corrections, plan_reprice
from schemas.events import MEDIA_TOKENS
from schemas.prices import PriceVersion
from streams.pricing import PriceCatalog

GPT4O_AT_2_50 = PriceVersion.model_validate({"version": "list", "effective_from": "2026-01-01T00:00:00Z",
                                             "prices": [
    {"meter": "llm", "sku": "openai/gpt-4o", "input_per_mtok": "2.50", "output_per_mtok": "10"},
    {"meter": "tool", "sku": "tavily-search", "per_call": "0.008"},
]})  # fmt: skip


def ledger_row(
    event_id: str, cost: str, customer: str = "acme", kind: str = "llm", **fields: Any
) -> dict[str, Any]:
    """A ledger usage row as the reprice reads it: 1M input and 100k output gpt-4o tokens by default."""
    return {
        "event_id": event_id, "occurred_at": "2026-11-10T09:00:00Z", "customer_id": customer,
        "agent_id": "support-bot", "user_id": "", "task_id": "", "request_id": "", "kind": kind,
        "provider": "openai", "sku": "openai/gpt-4o", "model_sent": "gpt-4o",
        "service_tier": "", "batch": False,
        "quantity": D(1_100_000), "input_tokens": 1_000_000,
        "cached_input_tokens": 0, "cache_write_tokens": 0,
        "output_tokens": 100_000, "reasoning_tokens": 0, "attributes": {"team": "support"}, "cost": D(cost),
        **dict.fromkeys(MEDIA_TOKENS, 0), **fields,
    }  # fmt: skip


def test_a_dry_run_shows_old_new_and_difference_per_customer_and_model() -> None:
    rows = [
        ledger_row("a1", "3.00"),  # priced at $2 input before the correction: now $3.50
        ledger_row("a2", "3.00"),
        ledger_row("b1", "3.50", customer="globex"),  # already right
        ledger_row("s1", "0.01", kind="tool", sku="tavily-search", provider="", quantity=D(1)),
    ]
    plan = plan_reprice(rows, PriceCatalog([GPT4O_AT_2_50]))
    assert [(x.customer, x.sku, x.events, x.old, x.new, x.delta) for x in plan.lines] == [
        ("acme", "openai/gpt-4o", 2, D("6.00"), D("7.00"), D("1.00")),
        ("acme", "tavily-search", 1, D("0.01"), D("0.008"), D("-0.002")),
        ("globex", "openai/gpt-4o", 1, D("3.50"), D("3.50"), D(0)),
    ]
    assert plan.delta == D("0.998")
    assert [change.row["event_id"] for change in plan.changes] == ["a1", "a2", "s1"]


def test_corrections_carry_the_run_its_reason_and_the_exact_difference() -> None:
    plan = plan_reprice([ledger_row("a1", "3.00")], PriceCatalog([GPT4O_AT_2_50]))
    [correction] = corrections(plan, "run-1", "gpt-4o was loaded at $2.00, not $2.50")
    assert correction.event_id == correction_id("run-1", "a1") != correction_id("run-2", "a1")
    assert (correction.corrects, correction.corrected_kind, correction.run_id) == ("a1", "llm", "run-1")
    assert correction.cost_delta == D("0.5") and correction.reason.startswith("gpt-4o")
    assert (correction.customer_id, correction.attributes) == ("acme", {"team": "support"})


def test_a_ledger_that_already_holds_the_corrections_gives_nothing_to_do() -> None:
    plan = plan_reprice([ledger_row("a1", "3.50")], PriceCatalog([GPT4O_AT_2_50]))
    assert plan.delta == 0 and plan.changes == []


def test_outcomes_storage_and_models_no_longer_priced_are_left_alone_and_said_so() -> None:
    rows = [
        ledger_row("o1", "0", kind="outcome"),
        ledger_row("x1", "1.00", sku="mistral/unknown", model_sent="unknown", provider="mistral"),
    ]
    plan = plan_reprice(rows, PriceCatalog([GPT4O_AT_2_50]))
    assert plan.lines == [] and plan.changes == []
    assert sum(plan.skipped.values()) == 2 and "outcome rows are not repriced" in plan.skipped


def test_a_reprice_prices_audio_tokens_again_at_audio_rates() -> None:
    audio = PriceVersion.model_validate({"version": "audio", "effective_from": "2026-01-01T00:00:00Z",
                                         "prices": [
        {"meter": "llm", "sku": "openai/gpt-4o", "input_per_mtok": "2.50", "output_per_mtok": "10",
         "input_audio_per_mtok": "40"},
    ]})  # fmt: skip
    row = ledger_row("a1", "3.50", input_audio_tokens=500_000)
    plan = plan_reprice([row], PriceCatalog([audio]))
    # 500k text × $2.50 + 500k audio × $40 + 100k output × $10, per M
    assert [(change.old, change.new) for change in plan.changes] == [(D("3.50"), D("22.25"))]
