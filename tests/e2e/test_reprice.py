"""Correcting the past: a wrong list price found after November was billed.

gpt-4o was loaded at $2.00 per million input tokens instead of $2.50. The
price is corrected, ``costline reprice`` appends corrections through the
usage topic, and the ledger, the windows, the draft invoice and the next
invoice's adjustment follow; a second run changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from billing import store
from billing.invoices import BillingContext, finalize, invoice_for
from billing.periods import Period
from costline.config import Settings
from costline.dev.harness import Pipeline
from schemas.events import UsageEvent
from schemas.plans import BillingFile
from schemas.prices import PriceVersion
from tests.factories import event, run_command

ROOT = Path(__file__).resolve().parents[2]
NOVEMBER, DECEMBER = Period.parse("2026-11"), Period.parse("2026-12")
WHY = "gpt-4o was loaded at $2.00 input; the list price is $2.50"
COST_PLUS = {
    "plans": [{"plan": "cost-plus", "version": "1", "charges": [
        {"kind": "pass_through", "description": "Usage cost", "margin": "0.20"}]}],
    "subscriptions": [
        {"customer_id": "acme", "plan": "cost-plus", "version": "1", "starts_on": "2026-10-01"}],
}  # fmt: skip


def gpt4o_at(input_rate: str) -> PriceVersion:
    price = {"meter": "llm", "sku": "openai/gpt-4o", "input_per_mtok": input_rate, "output_per_mtok": "10"}
    return PriceVersion.model_validate(
        {"version": "list-2026", "effective_from": "2026-01-01T00:00:00Z", "prices": [price]}
    )


def calls(day: str, count: int = 10) -> list[UsageEvent]:
    """``count`` calls of 1M input and 100k output tokens: $3.00 at the wrong price, $3.50 at the right."""
    return [
        event(f"{day}-{n}", "llm", at=f"{day}T09:{n:02d}:00Z", provider="openai", model="gpt-4o-2024-08-06",
              input_tokens=1_000_000, output_tokens=100_000)
        for n in range(count)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def pipeline(services: Settings) -> Iterator[Pipeline]:
    p = Pipeline.create(services, "reprice")
    p.load_prices([gpt4o_at("2.00")])
    p.start_worker()
    yield p
    p.close()


@pytest.fixture(scope="module")
def billed(pipeline: Pipeline) -> BillingContext:
    store.load(pipeline.db, store.read_billing_file(ROOT / "plans" / "meters.json"))
    store.load(pipeline.db, BillingFile.model_validate(COST_PLUS))
    pipeline.publish(calls("2026-11-10") + calls("2026-12-02"))
    pipeline.wait_until_counted(20)
    return BillingContext.load(pipeline.db)


def reprice(pipeline: Pipeline, *options: str) -> int:
    return run_command(pipeline.settings, "reprice", "--from", "2026-11-01", "--to", "2027-01-01",
                       "--customer", "acme", "--reason", WHY, "--by", "finance-bot", *options)  # fmt: skip


def test_a_reprice_corrects_the_ledger_windows_and_invoices_once(
    pipeline: Pipeline, billed: BillingContext, capsys: pytest.CaptureFixture[str]
) -> None:
    assert finalize(billed, "acme", NOVEMBER).total == D("36.00")  # $30 of cost plus 20%
    pipeline.load_prices([gpt4o_at("2.50")])  # the price, corrected after the fact

    capsys.readouterr()
    assert reprice(pipeline, "--dry-run") == 0
    dry = capsys.readouterr().out
    assert "acme" in dry and "openai/gpt-4o" in dry and "+10.000000000000" in dry
    assert "nothing written" in dry
    assert pipeline.scalar("SELECT count() FROM ledger FINAL") == 20

    assert reprice(pipeline) == 0
    pipeline.wait_for("SELECT sum(cost) FROM ledger FINAL", D(70))  # 20 calls at $3.50
    # One correction row per call, linked to it; the calls' own rows are as they were.
    assert pipeline.scalar("SELECT count() FROM ledger FINAL WHERE corrects != ''") == 20
    assert pipeline.scalar("SELECT sum(cost) FROM ledger FINAL WHERE corrects = ''") == D(60)
    pipeline.wait_until_windows_match_ledger()
    assert pipeline.customer_totals() == {"acme": D(70)}
    events = "SELECT sum(events) FROM cost_windows FINAL WHERE agent_id = '*' AND window_size = 3600"
    assert pipeline.scalar(events) == 20  # corrections change cost, not counts

    assert invoice_for(billed, "acme", NOVEMBER).total == D("36.00")  # final stays final
    december = finalize(billed, "acme", DECEMBER)
    adjustments = [line for line in december.lines if line.kind == "adjustment"]
    assert [(a.adjusts_period, a.amount) for a in adjustments] == [("2026-11", D("6.00"))]
    assert december.total == D("48.00")  # $35 at the right price plus 20%, and November's $6

    # The same reprice again: nothing left to correct, nothing published.
    capsys.readouterr()
    assert reprice(pipeline, "--dry-run") == 0
    assert "+0.000000000000" in capsys.readouterr().out
    assert reprice(pipeline) == 0
    assert "nothing to correct" in capsys.readouterr().out
    assert run_command(pipeline.settings, "reprice", "list") == 0
    listed = capsys.readouterr().out
    assert listed.count("reprice-") == 1 and "by finance-bot" in listed and WHY in listed
    assert "20 corrections" in listed and "difference +10.000000000000" in listed
