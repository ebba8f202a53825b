"""The quixstreams peer's process: the idiomatic pipeline, as its documentation writes one.

    python -m bench.peers.quix_app BOOTSTRAP TOPIC GROUP CLICKHOUSE_URL DATABASE PRICES_DIR STATE_DIR

JSON in, one event a row, float prices, one window level (hourly cost and
events per customer, updated as events arrive), a ledger sink and a window
sink into ClickHouse. Bench-only: it imports quixstreams (``.[bench]``).
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from quixstreams import Application
from quixstreams.dataframe.windows import Count, Sum
from quixstreams.sinks import BatchingSink, SinkBatch

from costline.clickhouse import open_client
from costline.config import get_settings
from schemas.prices import load_price_dir

SECONDS_PER_MONTH = 730 * 3600


def float_rates(prices_dir: Path) -> dict[str, dict[str, float]]:
    """Each SKU's rates as floats, from the newest version that lists it."""
    rates: dict[str, dict[str, float]] = {}
    for version in sorted(load_price_dir(prices_dir), key=lambda v: v.effective_from):
        for price in version.prices:
            rates[price.sku] = {k: float(v) for k, v in price.rates().items() if not isinstance(v, dict)}
    return rates


def price(event: dict[str, Any], rates: dict[str, dict[str, float]]) -> dict[str, Any]:
    kind = event["kind"]
    sku = {"llm": event.get("model"), "embedding": event.get("model"), "tool": event.get("tool"),
           "vector_query": event.get("provider")}.get(kind, event.get("sku", ""))  # fmt: skip
    r = rates.get(sku or "", {})
    if kind == "llm":
        cached = event.get("cached_input_tokens", 0)
        cost = (
            (event["input_tokens"] - cached) * r["input_per_mtok"]
            + cached * r.get("cached_input_per_mtok", r["input_per_mtok"])
            + event["output_tokens"] * r["output_per_mtok"]
        ) / 1e6
    elif kind == "embedding":
        cost = event["tokens"] * r["per_mtok"] / 1e6
    elif kind == "tool":
        cost = event.get("calls", 1) * r["per_call"]
    elif kind == "vector_query":
        cost = event.get("queries", 1) * r["per_query"]
    elif kind == "compute":
        cost = float(event["seconds"]) * r["per_hour"] / 3600
    elif kind == "storage":
        cost = event["bytes"] / 1e9 * float(event["seconds"]) / SECONDS_PER_MONTH * r["per_gb_month"]
    elif kind == "human_review":
        cost = float(event["minutes"]) * r["per_minute"]
    else:
        cost = 0.0
    return {"event_id": event["event_id"], "occurred_at": event["occurred_at"],
            "customer_id": event["customer_id"], "agent_id": event["agent_id"], "kind": kind,
            "sku": sku or "", "cost": cost}  # fmt: skip


class ClickHouseSink(BatchingSink):
    """Rows of one table, inserted once per checkpoint (quixstreams commits after ``write``)."""

    def __init__(self, url: str, database: str, table: str, columns: list[str]) -> None:
        super().__init__()
        settings = get_settings().model_copy(update={"clickhouse_url": url, "clickhouse_database": database})
        self._client = open_client(settings)
        self._table, self._columns = table, columns

    def write(self, batch: SinkBatch) -> None:
        rows = [[item.value[c] for c in self._columns] for item in batch]
        self._client.insert(self._table, rows, column_names=self._columns)


def main(argv: list[str]) -> None:
    bootstrap, topic_name, group, url, database, prices_dir, state_dir = argv
    rates = float_rates(Path(prices_dir))
    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        state_dir=state_dir,
        commit_interval=1.0,
    )
    topic = app.topic(topic_name, value_deserializer="json")
    sdf = app.dataframe(topic)
    sdf = sdf.apply(lambda batch: batch if isinstance(batch, list) else [batch], expand=True)
    sdf = sdf.apply(lambda event: price(event, rates))
    sdf = sdf.set_timestamp(
        lambda value, key, timestamp, headers: int(
            datetime.fromisoformat(value["occurred_at"]).timestamp() * 1000
        )
    )
    ledger_columns = ["event_id", "occurred_at", "customer_id", "agent_id", "kind", "sku", "cost"]
    sdf = sdf.apply(lambda row: {**row, "occurred_at": datetime.fromisoformat(row["occurred_at"])})
    sdf.sink(ClickHouseSink(url, database, "quix_ledger", ledger_columns))
    windows = sdf.tumbling_window(timedelta(hours=1)).agg(events=Count(), cost=Sum("cost")).current()
    windows = windows.apply(
        lambda w, key, timestamp, headers: {
            "customer_id": key.decode() if isinstance(key, bytes) else str(key),
            "window_start_ms": w["start"],
            "events": w["events"],
            "cost": w["cost"],
        },
        metadata=True,
    )
    windows.sink(
        ClickHouseSink(url, database, "quix_windows", ["customer_id", "window_start_ms", "events", "cost"])
    )
    app.run()


if __name__ == "__main__":
    main(sys.argv[1:])
