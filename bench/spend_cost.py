"""CPU per event of the worker's spend control on the benchmark's fleet, in one process.

Times :meth:`streams.spend_control.SpendControl.apply` as the worker runs it
with default settings (no budget loaded, the default anomaly detectors on)
on :mod:`bench.workload`'s events, decoded and priced as the worker does,
``--batch-messages`` messages of ``--per-message`` events a batch, the
records kept in a plain dict table (the changelog dropped). ``--span-s 5``
is 500k events at 100k events/s, as ``bench.run``'s end-to-end phase.

``new_columns`` is the same, handed each batch's :class:`EventColumns` as the
worker does (read before, untimed: the worker has them anyway).

``--against COMMIT`` also times the spend modules as they were at that
commit (and the alerts' schema, where their ids are made), loaded from git
into a package of their own, on the same events in
the same process (each twice, interleaved; ``old_columns``: handed the columns,
as ``new_columns``), and checks that
they all fire the same alerts and write the same records (read back: a detector's
record is JSON before session 15, MessagePack since). The last line is JSON.

    .venv/bin/python -m bench.spend_cost [--events 200000] [--span-s 2] [--against 4727d31]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import re
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from bench.workload import events, pack
from costline.config import Settings
from schemas.alerts import AlertRule
from schemas.prices import load_price_dir
from streams.aggregation import Counted, position
from streams.anomalies import HourlySpend, RequestCostHistory, TokenDrift
from streams.decoding import decode_message
from streams.garbage_collection import between_batches, tune_for_worker
from streams.pricing import PriceCatalog
from streams.spend_state import ANOMALY_PREFIX, DetectorRecord, split_key
from streams.window_batch import EventColumns

PARTITIONS = 8
EMITTED_AT = datetime(2026, 11, 21, tzinfo=UTC)
# The modules of spend control, loaded as a whole from an older commit (each imports the others; the
# detectors' sums and runs too, whose signatures the rules may change with them).
SPEND_MODULES = ("spend_control", "spend_rules", "anomaly_rules", "spend_state", "budget_runs", "anomalies",
                 "hourly_sums", "key_runs", "day_sums")  # fmt: skip


def counted_batches(
    n: int, span_s: float, per_message: int, batch_messages: int, catalog: PriceCatalog
) -> list[list[Counted]]:
    """The fleet's events as the worker counts them: per message, its partition and positions."""
    messages = pack(events(n, span_s=span_s), per_message)
    offsets = [0] * PARTITIONS
    batches: list[list[Counted]] = []
    for first in range(0, len(messages), batch_messages):
        batch: list[Counted] = []
        for key, value in messages[first : first + batch_messages]:
            partition = zlib.crc32(key) % PARTITIONS
            offset = offsets[partition]
            offsets[partition] += 1
            for item in decode_message(value):
                assert item.event is not None
                batch.append((partition, position(offset, item.index), catalog.price(item.event)))
        batches.append(batch)
    return batches


def load_spend_modules(commit: str) -> ModuleType:
    """The spend modules of ``commit`` as package ``_spend_<commit>``: they import each other there,
    everything else from the tree at hand."""
    package = f"_spend_{commit}"
    root = Path(tempfile.mkdtemp(prefix="spend-old-"))
    names = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", commit, "streams/"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    pattern = re.compile(r"\bstreams\.(" + "|".join(SPEND_MODULES) + r")\b")
    # The alerts' schema too (its ids and payloads are made there), as ``schemas_alerts`` of the package.
    schema = re.compile(r"\bschemas\.alerts\b")
    for name in names:
        relative = Path(name).relative_to("streams")
        if relative.parts[0].removesuffix(".py") not in SPEND_MODULES:
            continue
        source = subprocess.run(
            ["git", "show", f"{commit}:{name}"], check=True, capture_output=True, text=True
        )
        target = root / package / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            schema.sub(f"{package}.schemas_alerts", pattern.sub(rf"{package}.\1", source.stdout))
        )
    alerts = subprocess.run(
        ["git", "show", f"{commit}:schemas/alerts.py"], check=True, capture_output=True, text=True
    )
    (root / package / "schemas_alerts.py").write_text(alerts.stdout)
    (root / package / "__init__.py").touch()
    sys.path.insert(0, str(root))
    return importlib.import_module(package)


class _Table:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}


class _Outlet:
    def __init__(self) -> None:
        self.alerts: list[Any] = []

    async def store(self, alerts: Sequence[Any]) -> None:
        self.alerts += alerts

    async def publish(self, alerts: Sequence[Any]) -> None:
        pass


async def _retry(call: Callable[[], Awaitable[Any]], what: str) -> Any:
    return await call()


def control(modules: Any, settings: Settings) -> Any:
    """Spend control as :func:`streams.spend_wiring.spend_control` builds it, of ``modules``."""
    spend_control = importlib.import_module(f"{modules.__name__}.spend_control")
    rules = importlib.import_module(f"{modules.__name__}.spend_rules")
    anomaly = importlib.import_module(f"{modules.__name__}.anomaly_rules")

    class Records(spend_control.TableSpend):  # type: ignore[name-defined,misc]
        async def flush(self) -> None:
            self.changelog._pending.clear()  # nowhere to send them

    engine = rules.SpendRules(
        rules.BudgetBook(),
        rules.budget_rules(
            settings.burn_rate_excess_pct, settings.burn_rate_min_elapsed_pct, settings.margin_min_pct
        ),
        rules.LimitSettings(
            settings.request_cost_limit,
            settings.request_token_limit,
            settings.task_cost_limit,
            settings.task_token_limit,
        ),
        now=lambda: EMITTED_AT,  # the same alert payloads in both runs
        anomalies=anomaly.AnomalyRules(anomaly.anomaly_settings(settings)),
    )
    return spend_control.SpendControl(engine, Records(_Table()), _Outlet())


def run(
    modules: Any,
    settings: Settings,
    batches: Sequence[Sequence[Counted]],
    columns: list[EventColumns] | None = None,
    between: bool = False,
    history: Sequence[tuple[Sequence[Counted], EventColumns | None]] = (),
    warmed: Callable[[], None] | None = None,
) -> tuple[float, Any]:
    """CPU seconds of every batch's apply, and the control (its alerts and table) after them;
    ``columns``: each batch's, as the worker hands them over (read before, untimed); ``between``:
    each batch applied with the collector held off, as the worker processes a batch (its owed
    collection runs after, untimed). ``history``: batches (and their columns) applied first, untimed,
    so that the timed ones find their keys' records stored, as a worker at steady state does;
    ``warmed`` is called after them."""
    spend = control(modules, settings)
    spent = 0.0

    async def go() -> None:
        nonlocal spent
        for batch, read in history:
            with between_batches() if between else contextlib.nullcontext():
                await spend.apply(batch, _retry, **({} if read is None else {"columns": read}))
        gc.collect()
        if warmed is not None:
            warmed()
        for n, batch in enumerate(batches):
            given = {"columns": columns[n]} if columns is not None else {}
            with between_batches() if between else contextlib.nullcontext():
                started = time.process_time()
                await spend.apply(batch, _retry, **given)
                spent += time.process_time() - started

    asyncio.run(go())
    return spent, spend


def table_content(data: dict[bytes, bytes]) -> list[tuple[bytes, Any]]:
    """The records, in the table's order, as they read: a detector's as :mod:`streams.spend_state`
    decodes it, whichever format wrote it (before session 15 JSON, MessagePack since), the decimals
    with their digits and exponents; any other record's bytes."""
    loads: dict[str, Callable[[bytes], Any]] = {
        AlertRule.HOURLY_SPIKE: HourlySpend.from_bytes,
        AlertRule.REQUEST_COST_ANOMALY: RequestCostHistory.from_bytes,
        AlertRule.TOKEN_DRIFT: TokenDrift.from_bytes,
    }
    content: list[tuple[bytes, Any]] = []
    for key, raw in data.items():
        parts = split_key(key)
        if parts[0] != ANOMALY_PREFIX:
            content.append((key, raw))
            continue
        r = DetectorRecord.decode(raw)
        costs = {kind: {i: str(c) for i, c in v.items()} for kind, v in r.contributors.items()}
        state = loads[parts[1]](r.state).to_json() if r.state else None
        content.append((key, (r.position, r.partition, r.last_seen, r.episode, r.hour, costs, state)))
    return content


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--span-s", type=float, default=2.0, help="event time the events span")
    parser.add_argument("--per-message", type=int, default=100)
    parser.add_argument("--batch-messages", type=int, default=1000, help="messages per worker batch")
    parser.add_argument("--against", help="a commit whose spend modules to time alongside")
    args = parser.parse_args(argv)

    settings = Settings()
    catalog = PriceCatalog(load_price_dir(settings.prices_dir))
    batches = counted_batches(args.events, args.span_s, args.per_message, args.batch_messages, catalog)
    n = sum(map(len, batches))
    tune_for_worker()
    new = importlib.import_module("streams")
    columns = [EventColumns.of(batch) for batch in batches]
    contenders: list[tuple[str, Any, list[EventColumns] | None]] = [
        ("new", new, None),
        ("new_columns", new, columns),
    ]
    if args.against:
        old = load_spend_modules(args.against)
        contenders[:0] = [("old", old, None), ("old_columns", old, columns)]
    figures: dict[str, Any] = {"events": n, "batches": len(batches), "span_s": args.span_s}
    outcomes: dict[str, Any] = {}
    for _ in range(2):  # twice each, interleaved: a noisy neighbour then weighs on both
        for name, modules, given in contenders:
            gc.collect()
            seconds, spend = run(modules, settings, batches, given)
            us = seconds / n * 1e6
            figures[f"{name}_us"] = min(figures.get(f"{name}_us", us), us)
            outcomes[name] = spend
    first = outcomes["old" if "old" in outcomes else "new"]
    for name, spend in outcomes.items():
        same_alerts = [a.payload() for a in first.outlet.alerts] == [a.payload() for a in spend.outlet.alerts]
        same_table = table_content(first.records.table.data) == table_content(spend.records.table.data)
        figures[f"{name}_same"] = same_alerts and same_table
    figures["alerts"] = len(outcomes["new"].outlet.alerts)
    for name, value in figures.items():
        print(f"{name:<12} {value:>12,.2f}" if isinstance(value, float) else f"{name:<12} {value!s:>12}")
    print(orjson.dumps(figures).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
