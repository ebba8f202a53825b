"""Loading price versions: one row per price without its unset rates, published before recorded.

Kafka and ClickHouse are replaced by a recording publish and client;
tests/e2e/test_pipeline.py and tests/e2e/test_cli_errors.py run the real ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from costline import price_versions
from costline.config import Settings
from costline.price_versions import PRICE_VERSION_COLUMNS, price_rows, publish_and_record, record_versions
from schemas.prices import PriceVersion

LOADED_AT = datetime(2026, 11, 20, 8, tzinfo=UTC)
# At noon GPT-4o reprices (no cache-write rate of its own) and Tavily costs a cent a call.
NOON = PriceVersion.model_validate(
    {
        "version": "2026-11-20-midday",
        "effective_from": "2026-11-20T12:00:00Z",
        "currency": "USD",
        "description": "GPT-4o and Tavily reprice at noon",
        "prices": [
            {
                "meter": "llm",
                "sku": "gpt-4o",
                "input_per_mtok": "2.00",
                "cached_input_per_mtok": "1.00",
                "output_per_mtok": "8.00",
            },
            {"meter": "tool", "sku": "tavily-search", "per_call": "0.01"},
        ],
    }
)


class RecordingClient:
    """A ClickHouse client that keeps what it is asked to insert."""

    def __init__(self, log: list[str] | None = None) -> None:
        self.inserts: list[tuple[str, list[list[Any]], list[str]]] = []
        self.log = log if log is not None else []

    def insert(self, table: str, rows: list[list[Any]], column_names: Sequence[str]) -> None:
        self.log.append(f"recorded {len(rows)}")
        self.inserts.append((table, rows, list(column_names)))


def test_each_price_is_a_row_of_its_version_without_the_rates_it_leaves_unset() -> None:
    rows = price_rows([NOON], LOADED_AT)

    assert [dict(zip(PRICE_VERSION_COLUMNS, row, strict=True)) for row in rows] == [
        {
            "version": "2026-11-20-midday",
            "effective_from": datetime(2026, 11, 20, 12, tzinfo=UTC),
            "currency": "USD",
            "meter": "llm",
            "sku": "gpt-4o",
            "rates": {
                "input_per_mtok": Decimal("2.00"),
                "cached_input_per_mtok": Decimal("1.00"),
                "output_per_mtok": Decimal("8.00"),
                "batch_discount": Decimal("0"),  # no discount is a rate too; no cache-write rate is not
            },
            "description": "GPT-4o and Tavily reprice at noon",
            "loaded_at": LOADED_AT,
        },
        {
            "version": "2026-11-20-midday",
            "effective_from": datetime(2026, 11, 20, 12, tzinfo=UTC),
            "currency": "USD",
            "meter": "tool",
            "sku": "tavily-search",
            "rates": {"per_call": Decimal("0.01")},
            "description": "GPT-4o and Tavily reprice at noon",
            "loaded_at": LOADED_AT,
        },
    ]


def test_rates_stay_decimal() -> None:
    [llm, _] = price_rows([NOON], LOADED_AT)

    assert all(isinstance(rate, Decimal) for rate in llm[PRICE_VERSION_COLUMNS.index("rates")].values())


def test_recording_inserts_every_price_of_every_version_into_price_versions() -> None:
    earlier = NOON.model_copy(update={"version": "2026-11-20-dawn"})
    client = RecordingClient()

    recorded = record_versions(client, [earlier, NOON])

    [(table, rows, columns)] = client.inserts
    assert (table, columns, recorded) == ("price_versions", list(PRICE_VERSION_COLUMNS), 4)
    assert [(row[0], row[4]) for row in rows] == [
        ("2026-11-20-dawn", "gpt-4o"),
        ("2026-11-20-dawn", "tavily-search"),
        ("2026-11-20-midday", "gpt-4o"),
        ("2026-11-20-midday", "tavily-search"),
    ]


def test_versions_are_published_to_the_worker_before_they_are_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log: list[str] = []

    async def publish(settings: Settings, versions: Sequence[PriceVersion]) -> None:
        log.append(f"published {[v.version for v in versions]} to {settings.prices_topic}")

    monkeypatch.setattr(price_versions, "publish_versions", publish)
    client = RecordingClient(log)

    recorded = publish_and_record(Settings(prices_topic="acme.prices"), client, [NOON])

    assert recorded == 2
    assert log == ["published ['2026-11-20-midday'] to acme.prices", "recorded 2"]


def test_a_failed_publish_records_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    async def publish(settings: Settings, versions: Sequence[PriceVersion]) -> None:
        raise TimeoutError("Kafka did not acknowledge")

    monkeypatch.setattr(price_versions, "publish_versions", publish)
    client = RecordingClient()

    with pytest.raises(TimeoutError):
        publish_and_record(Settings(), client, [NOON])
    assert client.inserts == []
