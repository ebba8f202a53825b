"""``costline budgets`` and ``costline alerts``: argv and printing only.

The work is in :mod:`costline.budgets` and :mod:`costline.alerts`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from costline import cli_arguments
from costline.cli_errors import CliParser, UsageError
from costline.config import Settings
from schemas.budgets import BudgetKind, OnUnreachable, PeriodKind, ScopeKind

# `budgets set` options that go into the budget as they are, by field name.
_SET_FIELDS = (
    "customer_id", "scope", "agent_id", "user_id", "task_id", "period", "hours", "amount", "currency",
    "kind", "on_unreachable", "burn_rate_excess", "description",
)  # fmt: skip
_SET_LIMITS = ("request_cost", "request_tokens", "task_cost", "task_tokens")


def cmd_budgets(args: argparse.Namespace, settings: Settings) -> int:
    from costline import budgets as store
    from costline.clickhouse import open_client
    from schemas.budgets import Budget, BudgetFileError, load_budget_files

    if args.action == "list":
        for b in store.list_budgets(open_client(settings), args.customer_id):
            limits = ", ".join(f"{k} {_plain(v)}" for k, v in b.limits.model_dump(exclude_none=True).items())
            line = f"{b.budget_id:<24} {b.scope_label:<28} {b.period_label:<14} {b.currency} {b.amount:>12} "
            line += f"{b.kind:<4} at {','.join(_plain(t) for t in b.thresholds)}%"
            print(line + (f"  limits: {limits}" if limits else ""))
        return 0
    if args.action == "delete":
        if not args.budget_id:
            raise UsageError("budgets delete needs --id")
        if not store.delete(settings, open_client(settings), args.budget_id):
            raise UsageError(f"no budget {args.budget_id!r} (see `costline budgets list`)")
        print(f"deleted budget {args.budget_id}; workers stop evaluating it within a poll")
        return 0
    if args.action == "load":
        if not args.files:
            raise UsageError('budgets load needs at least one budget file (JSON, {"budgets": [...]})')
        try:
            budgets = load_budget_files(Path(f) for f in args.files)
        except BudgetFileError as exc:
            raise UsageError(str(exc)) from None
    else:
        if args.files:
            raise UsageError("budgets set takes options, not files; use budgets load FILE")
        document: dict[str, Any] = {"budget_id": args.budget_id}
        document |= {f: getattr(args, f) for f in _SET_FIELDS if getattr(args, f) is not None}
        if args.thresholds is not None:
            document["thresholds"] = [t.strip() for t in args.thresholds.split(",")]
        document["limits"] = {f: getattr(args, f) for f in _SET_LIMITS if getattr(args, f) is not None}
        budgets = [Budget.model_validate(document)]
    client = open_client(settings)  # reach ClickHouse before the topic gets anything
    store.publish_and_record(settings, client, budgets)
    for b in budgets:
        print(f"  {b.budget_id:<24} {b.scope_label:<28} {b.period_label:<14} {b.currency} {b.amount}")
    print(f"published {len(budgets)} budget(s) to {settings.budgets_topic}; workers apply them within a poll")
    return 0


def _plain(value: object) -> str:
    """``1.000000000000`` as ``1``, ``100`` as ``100`` (not ``1E+2``)."""
    return f"{value.normalize():f}" if isinstance(value, Decimal) else str(value)


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    from costline.alerts import alert_line, follow_alerts, list_alerts
    from costline.clickhouse import open_client

    if args.action == "list":
        since = args.since or datetime(1970, 1, 1, tzinfo=UTC)
        alerts = list_alerts(open_client(settings), args.customer, since, args.limit)
        if args.format == "json":
            print(json.dumps([a.model_dump(mode="json") for a in alerts], indent=2))
        else:
            for alert in alerts:
                print(alert_line(alert))
        return 0

    async def tail() -> None:
        async for alert in follow_alerts(settings, args.customer, args.from_start):
            print(alert.model_dump_json() if args.format == "json" else alert_line(alert), flush=True)

    asyncio.run(tail())
    return 0


def add_commands(sub: argparse._SubParsersAction[CliParser]) -> None:
    p = sub.add_parser("budgets", help="budgets: load a file, set one, list, delete")
    p.add_argument("action", choices=["load", "set", "list", "delete"])
    p.add_argument("files", nargs="*", help='load: budget files (JSON, {"budgets": [...]})')
    p.add_argument("--id", dest="budget_id", help="set, delete: the budget's id")
    p.add_argument("--customer", dest="customer_id", help="set: whose budget; list: only this customer's")
    p.add_argument("--scope", choices=[s.value for s in ScopeKind])
    p.add_argument("--agent", dest="agent_id")
    p.add_argument("--user", dest="user_id")
    p.add_argument("--task", dest="task_id")
    p.add_argument("--period", choices=[s.value for s in PeriodKind])
    p.add_argument("--hours", type=int, help="rolling_hours: how many")
    p.add_argument("--amount", help="the budget, e.g. 1000.00")
    p.add_argument("--currency")
    p.add_argument("--thresholds", help="percentages, e.g. 50,80,100")
    p.add_argument("--kind", choices=[s.value for s in BudgetKind])
    p.add_argument("--on-unreachable", choices=[s.value for s in OnUnreachable])
    p.add_argument("--burn-rate-excess", help="percent over the budget a projection may reach (default 20)")
    p.add_argument("--request-cost", help="per-request cost limit for this budget's scope")
    p.add_argument("--request-tokens", type=int)
    p.add_argument("--task-cost")
    p.add_argument("--task-tokens", type=int)
    p.add_argument("--description")
    p.set_defaults(func=cmd_budgets)

    p = sub.add_parser("alerts", help="alerts: list them from ClickHouse, or tail the alerts topic")
    p.add_argument("action", choices=["list", "tail"])
    p.add_argument("--customer")
    p.add_argument("--since", type=cli_arguments.instant, help="list: emitted at or after (ISO 8601)")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--from-start", action="store_true", help="tail: from the topic's beginning")
    p.set_defaults(func=cmd_alerts)
