"""CPU of a request limit's alert and of an alert's id, old against new, in one process.

On :mod:`bench.workload`'s events, priced as the worker prices them, times
``_request_alerts`` (per alert made) over the events past the request cost
limit (the settings' default) and, with ``--token-limit``, past a token limit
too (each list of events as one batch, as the worker's garbage collection
runs); and ``alert_id`` (per id) of those events' times. The spend modules and
the alerts' schema of ``--against`` are loaded from git beside this tree's
(:func:`bench.spend_cost.load_spend_modules`); runs interleaved, medians of
``--rounds``; ``same``: the same alerts' payloads and ids. The last line is JSON.

    .venv/bin/python -m bench.limit_alerts [--events 100000] [--against 5b93e2d] [--rounds 7]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal
from types import ModuleType
from typing import Any

import orjson

from bench.spend_cost import counted_batches, load_spend_modules
from costline.config import Settings
from schemas.prices import load_price_dir
from streams.garbage_collection import between_batches, tune_for_worker
from streams.pricing import PriceCatalog, PricedEvent

EMITTED_AT = datetime(2026, 11, 21, tzinfo=UTC)


def _request_alerts(
    rules: ModuleType, events: list[PricedEvent], cost_limit: Decimal, token_limit: int | None
) -> tuple[float, list[bytes]]:
    """CPU seconds of every event's request alerts, and the alerts' payloads."""
    limits = rules._Limits(cost_limit, token_limit, None, None)
    request_alerts = rules._request_alerts
    with between_batches():  # as the worker evaluates a batch
        started = time.process_time()
        made = [request_alerts(priced, limits, {}, EMITTED_AT) for priced in events]
        spent = time.process_time() - started
    return spent, [alert.payload() for alerts in made for alert in alerts]


def _alert_ids(schema: ModuleType, times: list[datetime]) -> tuple[float, list[str]]:
    """CPU seconds of a request cost alert's id at each of ``times``, and the ids."""
    alert_id, rule, firing, limit = (
        schema.alert_id,
        schema.AlertRule.REQUEST_COST,
        schema.AlertStatus.FIRING,
        Decimal(1),
    )
    started = time.process_time()
    ids = [alert_id(rule, "customer\x1f", "request", at, limit, firing) for at in times]
    return time.process_time() - started, ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--token-limit", type=int, default=6000, help="the second case's request token limit")
    parser.add_argument("--against", default="5b93e2d")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    settings = Settings()
    assert settings.request_cost_limit is not None
    catalog = PriceCatalog(load_price_dir(settings.prices_dir))
    priced = [p for batch in counted_batches(args.events, 1.0, 100, 1000, catalog) for _, _, p in batch]
    cost_limit = settings.request_cost_limit
    cases: dict[str, tuple[int | None, list[PricedEvent]]] = {}
    for case, token_limit in (("cost", None), ("cost_tokens", args.token_limit)):
        over = [
            p
            for p in priced
            if p.cost > cost_limit
            or (token_limit is not None and p.tokens.input + p.tokens.output > token_limit)
        ]
        cases[case] = (token_limit, over)
    times = [p.event.occurred_at for p in priced]
    tune_for_worker()
    old = load_spend_modules(args.against)
    contenders = {
        "old": (
            importlib.import_module(f"{old.__name__}.spend_rules"),
            importlib.import_module(f"{old.__name__}.schemas_alerts"),
        ),
        "new": (importlib.import_module("streams.spend_rules"), importlib.import_module("schemas.alerts")),
    }
    samples: dict[str, list[float]] = {}
    made: dict[str, list[Any]] = {}
    for _ in range(args.rounds):  # interleaved: a noisy neighbour weighs on both
        for name, (rules, schema) in contenders.items():
            gc.collect()
            seconds, ids = _alert_ids(schema, times)
            samples.setdefault(f"{name}_alert_id_us", []).append(seconds / len(times) * 1e6)
            made[f"{name}_ids"] = ids
            for case, (token_limit, over) in cases.items():
                gc.collect()
                seconds, payloads = _request_alerts(rules, over, cost_limit, token_limit)
                samples.setdefault(f"{name}_{case}_us", []).append(seconds / len(payloads) * 1e6)
                made[f"{name}_{case}"] = payloads
    figures: dict[str, Any] = {key: round(statistics.median(values), 3) for key, values in samples.items()}
    figures["alerts"] = {case: len(made[f"new_{case}"]) for case in cases}
    figures["same"] = all(made[f"old_{what}"] == made[f"new_{what}"] for what in ("ids", *cases))
    for key, value in figures.items():
        print(f"{key:20} {value}")
    print(orjson.dumps({"events": len(priced), "rounds": args.rounds, **figures}).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
