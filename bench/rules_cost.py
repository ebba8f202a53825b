"""The spend rules' CPU cost per event, alone: no broker, no ClickHouse.

Times :meth:`SpendRules.evaluate` over batches of ``--batch`` events of
``--customers`` customers with 4 agents each, with the state read and
written through the worker's ``TableSpend`` (encoded after each batch; read
back decoded when the table still holds the bytes written). Cases: the rules with no budget loaded, with
``--budgets`` budgets (a monthly customer budget, a daily per-agent budget,
and for one customer in ten a margin budget, spread over the customers), each
with the anomaly detectors off and on. Figures are in-process CPU time. The last line is JSON.

    .venv/bin/python -m bench.rules_cost [--events 50000] [--customers 1000] [--budgets 10000]
                                         [--shape even|zipf]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.budgets import Budget
from schemas.events import usage_event_adapter
from streams.aggregation import Counted
from streams.anomaly_rules import AnomalyRules, AnomalySettings
from streams.pricing import PricedEvent, TokenUsage
from streams.spend_control import TableSpend
from streams.spend_rules import BudgetBook, Evaluation, LimitSettings, SpendRules, budget_rules
from streams.spend_state import BudgetSpend, DetectorRecord, EncodedRecord, TaskTally, rules_mark_key

START = datetime(2026, 11, 20, 9, tzinfo=UTC)


class _Table:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}


class Records(TableSpend):
    """The worker's table as bytes, read and written as the worker does (without Kafka)."""

    def __init__(self) -> None:
        super().__init__(_Table())

    def apply(self, result: Evaluation) -> None:
        changed: list[tuple[bytes, BudgetSpend | TaskTally | DetectorRecord | EncodedRecord]] = [
            *result.budgets.items(), *result.tasks.items(), *result.detectors.items()
        ]  # fmt: skip
        for key, record in changed:
            self.put(key, record.encode(), record.partition, record)
        for partition, mark in result.marks.items():
            self.table.data[rules_mark_key(partition)] = mark.encode()
        self.changelog._pending.clear()  # nowhere to send them


def budgets(count: int, customer_ids: list[str]) -> list[Budget]:
    """``count`` budgets over the customers in turn: a monthly one, a daily one per agent, and on one
    in twenty a plan revenue for the margin rule."""
    made: list[Budget] = []
    for n in range(count):
        customer = customer_ids[n % len(customer_ids)]
        shape: dict[str, Any] = (
            {"period": "month", "amount": "100000"}
            if n % 2 == 0
            else {"scope": "agent", "period": "day", "amount": "5000", "burn_rate_excess": 50}
        )
        if n % 20 == 0:
            shape["revenue"] = "200000"
        made.append(Budget.model_validate({"budget_id": f"b{n}", "customer_id": customer, **shape}))
    return made


def stream(events: int, customers: int, shape: str = "even") -> list[Counted]:
    """``even``: the customers in turn, 4 agents each, ten events a second. ``zipf``: as the end-to-end
    workload (:mod:`bench.workload`): customers and 50 agents zipf-skewed, the events over a day."""
    rng = random.Random(1)
    zipf = shape == "zipf"
    picked = rng.choices(range(customers), [1 / k**1.1 for k in range(1, customers + 1)], k=events)
    agents = rng.choices(range(50), [1 / k**1.1 for k in range(1, 51)], k=events)
    out: list[Counted] = []
    for n in range(events):
        customer = picked[n] if zipf else n % customers
        at = START + (timedelta(seconds=n * 86_400 / events) if zipf else timedelta(seconds=n // 10))
        event = usage_event_adapter.validate_python(
            {"kind": "llm", "event_id": f"e{n}", "occurred_at": at, "customer_id": f"c{customer}",
             "agent_id": f"a{agents[n] if zipf else n % 4}", "provider": "openai", "model": "gpt-4o",
             "input_tokens": 1000, "output_tokens": 100}
        )  # fmt: skip
        priced = PricedEvent(event, Decimal("0.0035"), "v", "gpt-4o", "openai", Decimal(1), "token",
                             TokenUsage(input=1000, output=100))  # fmt: skip
        out.append((customer % 4, n << 16, priced))
    return out


def per_event_us(rules: SpendRules, batches: list[list[Counted]]) -> float:
    records = Records()
    began = time.process_time()  # CPU time: the machine is shared, wall time is the neighbours' too
    for batch in batches:
        records.apply(rules.evaluate(batch, records))
    return (time.process_time() - began) / sum(map(len, batches)) * 1e6


def engine(book: list[Budget], anomalies: bool) -> SpendRules:
    return SpendRules(
        BudgetBook(book),
        budget_rules(Decimal(20), Decimal(10), Decimal(20)),
        LimitSettings(),
        anomalies=AnomalyRules(AnomalySettings()) if anomalies else None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--budgets", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--shape", choices=("even", "zipf"), default="even", help="who the events are of")
    args = parser.parse_args()
    events = stream(args.events, args.customers, args.shape)
    batches = [events[i : i + args.batch] for i in range(0, len(events), args.batch)]
    loaded = budgets(args.budgets, [f"c{i}" for i in range(args.customers)])
    result: dict[str, Any] = {"phase": "rules_cost", "events": args.events, "budgets": args.budgets,
                              "shape": args.shape}  # fmt: skip
    for name, book, anomalies in (
        ("no_budget", [], False),
        ("budgets", loaded, False),
        ("no_budget_anomalies", [], True),
        ("budgets_anomalies", loaded, True),
    ):
        result[f"rules_us_per_event_{name}"] = round(per_event_us(engine(book, anomalies), batches), 2)
        print(f"{name:<22} {result[f'rules_us_per_event_{name}']:>8.2f} us/event")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
