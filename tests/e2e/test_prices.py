"""Prices synced from genai-prices reach a running worker, priced as the source prices them."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price

from costline.cli import main
from costline.config import get_settings
from costline.dev.harness import Pipeline
from schemas.events import UsageEvent, usage_event_adapter

AT = "2026-11-20T09:00:00Z"


def llm(event_id: str, provider: str, model: str, **fields: object) -> UsageEvent:
    return usage_event_adapter.validate_python(
        {
            "kind": "llm",
            "event_id": event_id,
            "customer_id": "acme" if not event_id.startswith("probe") else "probe",
            "agent_id": "bot",
            "occurred_at": AT,
            "provider": provider,
            "model": model,
            **fields,
        }
    )


def source_cost(provider: str, model: str, context: dict[str, str] | None = None, **usage: int) -> Decimal:
    at = datetime.fromisoformat(AT)
    return calc_price(
        Usage(**usage), model, provider_id=provider, genai_request_timestamp=at, price_context=context
    ).total_price


def costline(*argv: str) -> str:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(list(argv)) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def synced(pipeline: Pipeline) -> Iterator[tuple[Pipeline, str, str]]:
    env = pytest.MonkeyPatch()
    env.setenv("COSTLINE_PRICES_TOPIC", pipeline.settings.prices_topic)
    env.setenv("COSTLINE_CLICKHOUSE_DATABASE", pipeline.settings.clickhouse_database)
    get_settings.cache_clear()
    try:
        yield pipeline, costline("prices", "sync", "--dry-run"), costline("prices", "sync")
    finally:
        env.undo()
        get_settings.cache_clear()


def wait_until_the_worker_prices_synced_skus(pipeline: Pipeline) -> None:
    """The running worker reads new versions within a poll, without a restart; until then a
    snapshot name is a dead letter, so probe until one is priced."""
    for attempt in range(20):
        probe = llm(f"probe-{attempt}", "openai", "gpt-4o-2024-08-06", input_tokens=1, output_tokens=1)
        pipeline.publish([probe])
        try:
            pipeline.wait_for(
                "SELECT count() FROM ledger FINAL WHERE event_id = {id:String}",
                1,
                timeout=5,
                id=f"probe-{attempt}",
            )
            return
        except AssertionError:
            continue
    raise AssertionError("the worker never priced a synced SKU")


def test_a_dry_run_lists_new_models_and_versions_and_writes_nothing(
    synced: tuple[Pipeline, str, str],
) -> None:
    _, dry_run, applied = synced
    assert "new model      openai/gpt-4o\n" in dry_run
    assert "new version    genai-prices:anthropic:1970-01-01" in dry_run
    assert "dry run: would publish" in dry_run
    assert "published" in applied and "0 new" not in applied


def test_synced_versions_price_snapshots_tiers_and_flex_in_the_running_worker(
    synced: tuple[Pipeline, str, str],
) -> None:
    pipeline, _, _ = synced
    pipeline.wait_for(
        "SELECT count() > 90 FROM price_versions FINAL WHERE startsWith(version, 'genai-prices:')", True
    )
    long_prompt = {"input_tokens": 200_001, "cached_input_tokens": 50_000, "output_tokens": 2_000}
    events = [
        llm("snapshot", "openai", "gpt-4o-2024-08-06", input_tokens=1_000, output_tokens=100),
        llm(
            "bedrock",
            "bedrock",
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            input_tokens=1_000,
            output_tokens=100,
        ),
        llm("long", "anthropic", "claude-sonnet-4-5", **long_prompt),
        llm("flex", "openai", "gpt-5", input_tokens=10_000, output_tokens=1_000, service_tier="flex"),
    ]
    wait_until_the_worker_prices_synced_skus(pipeline)
    pipeline.publish(events)
    pipeline.wait_for("SELECT count() FROM ledger FINAL WHERE customer_id = 'acme'", len(events))
    rows = {r[0]: r[1:] for r in pipeline.rows("SELECT event_id, sku, model_sent, cost FROM ledger FINAL")}
    assert rows["snapshot"][:2] == ("openai/gpt-4o", "gpt-4o-2024-08-06")
    assert rows["snapshot"][2] == source_cost("openai", "gpt-4o", input_tokens=1_000, output_tokens=100)
    assert rows["bedrock"][0] == "aws/regional.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert rows["long"][2] == source_cost(
        "anthropic", "claude-sonnet-4-5", input_tokens=200_001, cache_read_tokens=50_000, output_tokens=2_000
    )
    assert rows["flex"][2] == source_cost(
        "openai", "gpt-5", {"service_tier": "flex"}, input_tokens=10_000, output_tokens=1_000
    )
