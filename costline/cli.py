"""``costline``: run the pipeline and ask it what things cost."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from costline import cli_arguments, cli_spend
from costline.cli_errors import (
    EXIT_USAGE,
    KAFKA_REFUSALS,
    CliParser,
    UsageError,
    debugging,
    describe_validation,
    one_line,
    report,
)
from costline.cli_webhooks import add_webhook_commands
from costline.config import Settings, get_settings
from schemas.dead_letters import DeadLetterCode

if TYPE_CHECKING:  # the API stack loads only for `api` and `keys`
    from costline.api.keys import ApiKey

QUIET_LIBRARIES = ("aiokafka", "clickhouse_connect", "urllib3")


def cmd_services(args: argparse.Namespace, settings: Settings) -> int:
    from costline.dev import local_servers

    if args.action == "up":
        local_servers.up(settings)
    elif args.action == "down":
        local_servers.down(settings)
    for name, state in local_servers.status(settings).items():
        print(f"{name:<11} {state}")
    return 0


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from costline.migrations import migrate

    applied = migrate(settings)
    print(f"database {settings.clickhouse_database}: {len(applied)} migration(s) applied, schema up to date")
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from streams.garbage_collection import collect_rarely, tune_for_worker

    collect_rarely()  # before the worker's imports, which the default thresholds collect ~170 times
    from costline.kafka import ensure_topics
    from streams import fetch_wait, offset_commits

    asyncio.run(ensure_topics(settings))
    asyncio.run(offset_commits.seed_committed_offsets(settings))
    offset_commits.install({settings.usage_topic})
    fetch_wait.install()
    import streams.agents  # noqa: F401 - registers the agents with the app
    from streams.app import app

    tune_for_worker()
    sys.argv = ["costline", "worker", "--loglevel", args.loglevel, "--with-web"]
    app.main()
    return 0


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    from costline.kafka import ensure_topics
    from costline.publisher import UsagePublisher, customer_key

    source = Path(args.file)
    if not source.is_file():
        raise UsageError(f"{source}: no such file")

    async def run() -> int:
        await ensure_topics(settings)
        sent = 0
        async with UsagePublisher.from_settings(settings) as publisher:
            with source.open("rb") as lines:
                for line in lines:
                    line = line.strip()
                    if not line:
                        continue
                    await publisher.publish_raw(customer_key(line), line)
                    sent += 1
                    if sent % 10_000 == 0:
                        print(f"  {sent:,} events sent", file=sys.stderr)
            await publisher.flush()  # raises if any event was not delivered
        return sent

    print(f"published {asyncio.run(run()):,} events to {settings.usage_topic}")
    return 0


def cmd_prices(args: argparse.Namespace, settings: Settings) -> int:
    from costline.clickhouse import open_client
    from costline.price_versions import list_versions, publish_and_record
    from schemas.prices import load_price_dir, load_price_files

    if args.action == "sync":
        return _sync_prices(args, settings)
    if args.action == "load":
        paths = [Path(p) for p in args.files]
        # Every file is read and checked before anything is written: one bad file, nothing loaded.
        versions = load_price_files(paths) if paths else load_price_dir(settings.prices_dir)
        client = open_client(settings)  # reach ClickHouse before the topic gets anything
        rows = publish_and_record(settings, client, versions)
        for v in versions:
            print(f"  {v.version:<24} effective {v.effective_from.isoformat()}  {len(v.prices)} prices")
        print(f"published {len(versions)} price version(s) to {settings.prices_topic}")
        print(f"recorded {rows} prices in ClickHouse price_versions")
    else:
        for version, effective, count in list_versions(open_client(settings)):
            print(f"{version:<24} effective {effective.isoformat()}  {count} prices")
    return 0


def _sync_prices(args: argparse.Namespace, settings: Settings) -> int:
    from costline.clickhouse import open_client
    from costline.price_sync import (
        VERSION_PREFIX,
        bundled_source,
        plan_sync,
        source_from_file,
        synced_versions,
    )
    from costline.price_versions import publish_and_record, recorded_rates

    if args.files:
        raise UsageError("prices sync takes no version files; give a genai-prices data file with --data")
    source = source_from_file(args.data) if args.data else bundled_source()
    synced = synced_versions(source)
    client = open_client(settings)
    plan = plan_sync(synced.versions, recorded_rates(client, VERSION_PREFIX))
    for sku in plan.new_skus:
        print(f"  new model      {sku}")
    for version, sku, old, new in plan.changed_rates:
        changes = ", ".join(
            f"{name} {old.get(name, '-')} -> {new.get(name, '-')}"
            for name in sorted(old.keys() | new.keys())
            if old.get(name) != new.get(name)
        )
        print(f"  changed rates  {sku} in {version}: {changes}")
    for v in plan.new_versions:
        print(f"  new version    {v.version:<48} effective {v.effective_from.date()}  {len(v.prices)} prices")
    prices = sum(len(v.prices) for v in synced.versions)
    print(
        f"genai-prices: {synced.models} models, {prices} prices in {len(synced.versions)} versions; "
        f"{len(synced.skipped)} models skipped (priced by time of day, or not per token)"
    )
    what = f"{len(plan.new_versions)} new and {len(plan.changed_versions)} changed version(s)"
    if args.dry_run:
        print(f"dry run: would publish {what}, {len(plan.new_skus)} new model(s)")
        return 0
    if plan.to_publish:
        publish_and_record(settings, client, plan.to_publish)
    print(f"published {what} to {settings.prices_topic} and recorded them in ClickHouse price_versions")
    return 0


def cmd_costs(args: argparse.Namespace, settings: Settings) -> int:
    from billing.costs import CostQuery, costs
    from billing.inputs import EARLIEST, LATEST
    from billing.render import render_costs
    from costline.clickhouse import open_client

    group_by: list[str] = args.group_by
    start = args.start or EARLIEST
    end = args.end or LATEST
    if start >= end:
        raise UsageError(f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})")
    query = CostQuery(
        start, end, tuple(group_by), args.customer, args.agent, args.category, window=args.window
    )
    print(render_costs(costs(open_client(settings), query), group_by, args.format))
    return 0


def cmd_dlq(args: argparse.Namespace, settings: Settings) -> int:
    from costline.dead_letters import list_dead_letters, replay_dead_letters

    if args.action == "list":
        for letter in asyncio.run(list_dead_letters(settings)):
            print(
                f"{letter.failed_at.isoformat()}  {letter.code:<15} "
                f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}  {letter.reason}"
            )
    else:
        replayed = asyncio.run(replay_dead_letters(settings, code=args.code))
        print(f"replayed {replayed} dead letter(s) to {settings.usage_topic}")
    return 0


def cmd_plans(args: argparse.Namespace, settings: Settings) -> int:
    from billing import store
    from costline.clickhouse import open_client

    if args.action == "load":
        if not args.files:
            raise UsageError("plans load needs at least one billing file (e.g. plans/meters.json)")
        # Every file is read and checked before anything is written: one bad file, nothing loaded.
        files = [store.read_billing_file(Path(name)) for name in args.files]
        for name, loaded in zip(args.files, store.load_all(open_client(settings), files), strict=True):
            print(f"{name}: loaded {loaded}")
        return 0
    client = open_client(settings)
    for meter in store.meters(client):
        print(f"meter  {meter.name:<20} {meter.aggregation:<12} {meter.description}")
    for plan in store.plan_versions(client):
        kinds = ", ".join(c.kind for c in plan.charges)
        print(f"plan   {plan.plan + ' ' + plan.version:<20} {kinds}")
    for sub in store.subscriptions(client):
        print(
            f"sub    {sub.customer_id:<20} {sub.plan} {sub.version} from {sub.starts_on} seats {sub.seats:g}"
        )
    return 0


def cmd_invoice(args: argparse.Namespace, settings: Settings) -> int:
    from billing.exports import refuse_existing
    from billing.invoices import BillingContext, Invoice, finalize, invoice_for, subscribed
    from billing.periods import Period
    from billing.render import render_invoice
    from costline.clickhouse import open_client

    period = Period.parse(args.period)
    if args.customer and args.out and not args.force:
        refuse_existing(Path(args.out))  # before anything is finalized
    ctx = BillingContext.load(open_client(settings))

    def one(customer: str) -> Invoice:
        return finalize(ctx, customer, period) if args.finalize else invoice_for(ctx, customer, period)

    if args.customer:
        invoice = one(args.customer)
        text = render_invoice(invoice, args.format)
        if args.out:
            _write_file(Path(args.out), text, args.force)
            print(
                f"wrote the {invoice.status} invoice {invoice.invoice_id} ({invoice.total:.2f}) to {args.out}"
            )
        else:
            sys.stdout.write(text)
        return 0
    # Every subscribed customer: a summary, and with --out one file each in that folder.
    folder = Path(args.out) if args.out else None
    extension = "txt" if args.format == "table" else args.format
    customers = subscribed(ctx.client, period)
    if folder and not args.force:
        for customer in customers:  # the names invoices will have, before anything is finalized
            refuse_existing(folder / _file_name(f"INV-{customer}-{period.label}", extension))
    for customer in customers:
        invoice = one(customer)
        line = f"{invoice.invoice_id:<32} {invoice.status:<6} {invoice.currency} {invoice.total:>14,.2f}"
        if folder:
            path = folder / _file_name(invoice.invoice_id, extension)
            _write_file(path, render_invoice(invoice, args.format), args.force)
            line += f"  {path}"
        print(line)
    return 0


def _file_name(stem: str, extension: str) -> str:
    """A file name for an id: customer ids may hold '/' or start with '.', a file stays in its folder."""
    safe = re.sub(r"[/\\\x00]", "_", stem).lstrip(".") or "_"
    return f"{safe}.{extension}"


def _write_file(path: Path, text: str, overwrite: bool) -> None:
    """Write ``text`` whole (temp file, fsync, rename); an existing file is refused unless ``overwrite``."""
    from billing.exports import replacing

    with replacing(path, overwrite=overwrite) as tmp, tmp.open("x", encoding="utf-8") as f:
        f.write(text)


def cmd_economics(args: argparse.Namespace, settings: Settings) -> int:
    from billing import economics_store
    from billing.economics import economics
    from billing.periods import Period
    from billing.render import render_economics
    from costline.clickhouse import open_client

    inputs = economics_store.read(open_client(settings), Period.parse(args.period))
    report = economics(inputs, args.by, args.infra_cost_per_hour, args.human_cost)
    print(render_economics(report, args.format))
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from billing.exports import export, refuse_existing
    from billing.periods import Period
    from costline.cli_progress import ProgressBar
    from costline.clickhouse import open_client

    period = Period.parse(args.period)
    out = Path(args.out)
    if not args.force:
        refuse_existing(out)  # before anything is queried
    bar = ProgressBar(enabled=sys.stderr.isatty())
    client = open_client(settings)
    try:
        rows = export(client, period, args.format, out, args.data, progress=bar, overwrite=args.force)
    finally:
        client.close()
    bar.done()
    print(f"exported {rows} rows to {args.out}")
    return 0


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from costline.api.server import serve
    from costline.kafka import ensure_topics

    asyncio.run(ensure_topics(settings))
    host, port = args.host or settings.api_host, args.port or settings.api_port
    print(f"costline api on http://{host}:{port} (docs at /docs)", file=sys.stderr)
    serve(settings, host, port, args.workers)
    return 0


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    from costline.api import key_store
    from costline.clickhouse import open_client

    client = open_client(settings)
    if args.action == "create":
        if not args.scope:
            raise UsageError("keys create needs --scope (ingest, read, gate or admin; repeat for more)")
        key, secret = key_store.create_key(client, args.scope, args.customer, args.name or "")
        print(f"created key {key.key_id} ({_key_line(key)})")
        print(f"secret (shown once, keep it safe): {secret}")
    elif args.action == "revoke":
        if not args.key_id:
            raise UsageError("keys revoke needs the key's id (see `costline keys list`)")
        try:
            key = key_store.revoke_key(client, args.key_id)
        except key_store.UnknownKey as exc:
            raise UsageError(str(exc)) from None
        print(f"revoked key {key.key_id} ({_key_line(key)})")
    else:
        for key in key_store.list_keys(client):
            print(f"{key.key_id}  {_key_line(key)}")
    return 0


def _key_line(key: ApiKey) -> str:
    state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M:%S}" if key.revoked_at else "active"
    scopes = ",".join(sorted(key.scopes))
    return f"{scopes}; customer {key.customer_id or '*'}; {key.name or '-'}; {state}"


def cmd_reprice(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from costline import reprice_runs
    from costline.clickhouse import open_client
    from costline.reprice import Window

    client = open_client(settings)
    if args.action == "list":
        for run in reprice_runs.list_runs(client):
            w = run.window
            scope = f"{w.start.isoformat()} .. {w.end.isoformat()}" + "".join(
                f" {name}={value}" for name, value in (("customer", w.customer), ("model", w.model)) if value
            )
            print(f"{run.run_id}  {run.created_at:%Y-%m-%d %H:%M:%S}Z  by {run.created_by}  {scope}")
            print(f"    {run.corrections} corrections  old {run.old_cost:f}  new {run.new_cost:f}  "
                  f"difference {run.delta:+f}  why: {run.reason}")  # fmt: skip
        return 0
    if args.start is None or args.end is None:
        raise UsageError("reprice needs --from and --to (ISO 8601 instants)")
    if args.end <= args.start:
        raise UsageError("--to must be after --from")
    if not args.dry_run and not (args.reason or "").strip():
        raise UsageError('reprice needs --reason "why"; it goes on every correction and in the run record')
    window = Window(args.start, args.end, args.customer or "", args.model or "")
    plan = reprice_runs.plan(settings, client, window)
    print(
        f"{'customer':<24} {'model':<40} {'events':>8} {'old cost':>20} {'new cost':>20} {'difference':>20}"
    )
    for line in plan.lines:
        print(f"{line.customer:<24} {line.sku:<40} {line.events:>8} {line.old:>20f} {line.new:>20f} "
              f"{line.delta:>+20f}")  # fmt: skip
    print(f"{'total':<24} {'':<40} {sum(x.events for x in plan.lines):>8} {plan.old:>20f} {plan.new:>20f} "
          f"{plan.delta:>+20f}")  # fmt: skip
    for why, count in sorted(plan.skipped.items()):
        print(f"left as they are: {count} event(s), {why}")
    if args.dry_run:
        print(f"dry run: {len(plan.changes)} event(s) would be corrected; nothing written")
        return 0
    if not plan.changes:
        print("nothing to correct: the ledger already holds these costs")
        return 0
    by = args.by or getpass.getuser()
    run = reprice_runs.apply(settings, client, window, plan, args.reason.strip(), by)
    print(f"run {run.run_id}: published {run.corrections} correction(s) to {settings.usage_topic}; "
          "the worker folds them into the ledger and windows")  # fmt: skip
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from costline.dev.demo import run_demo

    return run_demo(settings, keep_running=args.keep_running)


def _reprice_command(sub: argparse._SubParsersAction[CliParser]) -> None:
    p = sub.add_parser("reprice", help="correct past costs by the current prices, with an audit trail")
    p.add_argument("action", nargs="?", choices=["list"], help="list: the runs applied so far")
    p.add_argument("--from", dest="start", type=cli_arguments.instant, help="first instant covered")
    p.add_argument("--to", dest="end", type=cli_arguments.instant, help="end of the window (exclusive)")
    p.add_argument("--customer", help="only this customer")
    p.add_argument("--model", help="only this model (SKU as priced, or model as sent)")
    p.add_argument("--reason", help="why: recorded with the run and on every correction")
    p.add_argument("--by", help="who runs it (default: the login name)")
    p.add_argument(
        "--dry-run", action="store_true", help="print old cost, new cost and difference; write nothing"
    )
    p.set_defaults(func=cmd_reprice)


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(prog="costline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=CliParser)
    _pipeline_commands(sub)
    _cost_commands(sub)
    _billing_commands(sub)
    _service_commands(sub)
    _reprice_command(sub)
    add_webhook_commands(sub)
    cli_spend.add_commands(sub)
    p = sub.add_parser("demo", help="services, schema, prices, worker and a sample day, end to end")
    p.add_argument("--keep-running", action="store_true", help="leave services, worker and API up")
    p.set_defaults(func=cmd_demo)
    return parser


def _pipeline_commands(sub: argparse._SubParsersAction[CliParser]) -> None:
    """services, db, worker, publish, prices: run the pipeline and feed it."""
    p = sub.add_parser("services", help="the local Kafka broker and ClickHouse server")
    p.add_argument("action", choices=["up", "down", "status"])
    p.set_defaults(func=cmd_services)

    p = sub.add_parser("db", help="ClickHouse schema")
    p.add_argument("action", choices=["migrate"])
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("worker", help="run the Faust worker")
    p.add_argument("--loglevel", default="info")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("publish", help="publish a JSON-lines file of events to Kafka")
    p.add_argument("file")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("prices", help="price versions")
    p.add_argument("action", choices=["load", "list", "sync"])
    p.add_argument("files", nargs="*", help="version files (default: every file in prices/)")
    p.add_argument("--dry-run", action="store_true", help="sync: print what would change, write nothing")
    p.add_argument(
        "--data", type=Path, help="sync: a newer genai-prices data file (default: the package's bundled data)"
    )
    p.set_defaults(func=cmd_prices)


def _service_commands(sub: argparse._SubParsersAction[CliParser]) -> None:
    """api and keys: the HTTP service and who may call it."""
    from costline.api.keys import Scope

    p = sub.add_parser(
        "api",
        help="the HTTP service: POST /v1/events, GET /v1/costs, invoices, economics, dead letters, "
        "the budget gate; /docs",
    )
    p.add_argument("--host", help="default COSTLINE_API_HOST (127.0.0.1)")
    p.add_argument("--port", type=int, help="default COSTLINE_API_PORT (18080)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes serving the port, sharing Idempotency-Keys and /metrics (default 1)",
    )
    p.set_defaults(func=cmd_api)

    p = sub.add_parser("keys", help="API keys: create (prints the secret once), list, revoke")
    p.add_argument("action", choices=["create", "list", "revoke"])
    p.add_argument("key_id", nargs="?", help="revoke: the key's id")
    p.add_argument(
        "--scope", action="append", type=Scope, choices=list(Scope), help="create: repeat for more"
    )
    p.add_argument("--customer", help="create: the one customer the key acts for (default: all)")
    p.add_argument("--name", help="create: a label, e.g. the service that holds it")
    p.set_defaults(func=cmd_keys)


def _cost_commands(sub: argparse._SubParsersAction[CliParser]) -> None:
    """costs and dlq: what events cost, and the events that could not be priced."""
    p = sub.add_parser("costs", help="a customer's costs from ClickHouse")
    p.add_argument("--customer", required=True)
    p.add_argument(
        "--from",
        dest="start",
        type=cli_arguments.instant,
        help="inclusive, ISO 8601 (default: the beginning)",
    )
    p.add_argument(
        "--to", dest="end", type=cli_arguments.instant, help="exclusive, ISO 8601 (default: no end)"
    )
    p.add_argument(
        "--group-by",
        type=cli_arguments.groupings,
        default=["agent", "category"],
        help="comma-separated, any of customer,agent,category,window (default: agent,category)",
    )
    p.add_argument("--agent", help="only this agent")
    p.add_argument("--category", help="only this category (llm, tool, ...)")
    p.add_argument(
        "--window",
        type=cli_arguments.window,
        default="1h",
        help="the window size: 1m, 1h or 1d (default: 1h)",
    )
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.set_defaults(func=cmd_costs)

    p = sub.add_parser("dlq", help="the dead-letter topic")
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument(
        "--code", choices=[c.value for c in DeadLetterCode], help="replay only dead letters with this code"
    )
    p.set_defaults(func=cmd_dlq)


def _billing_commands(sub: argparse._SubParsersAction[CliParser]) -> None:
    """plans, invoice, economics, export: the read side."""
    p = sub.add_parser("plans", help="meters, plan versions, customers, subscriptions and credits")
    p.add_argument("action", choices=["load", "list"])
    p.add_argument("files", nargs="*", help="billing files to load (JSON; see plans/)")
    p.set_defaults(func=cmd_plans)
    _invoice_command(sub)
    _economics_command(sub)
    _export_command(sub)


def _invoice_command(sub: argparse._SubParsersAction[CliParser]) -> None:
    p = sub.add_parser("invoice", help="a customer's invoice for a month (a draft until finalized)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer")
    who.add_argument("--all", action="store_true", help="every customer subscribed in the period")
    p.add_argument("--period", required=True, type=cli_arguments.period, help="a UTC month, e.g. 2026-11")
    p.add_argument("--format", choices=["table", "json", "csv", "html"], default="table")
    p.add_argument("--finalize", action="store_true", help="store it; a finalized invoice never changes")
    p.add_argument("--out", help="write to this file (with --all: a folder, one file per invoice)")
    p.add_argument("--force", action="store_true", help="replace files that already exist at --out")
    p.set_defaults(func=cmd_invoice)


def _economics_command(sub: argparse._SubParsersAction[CliParser]) -> None:
    p = sub.add_parser("economics", help="revenue against cost, margins and cost per task for a month")
    p.add_argument("--period", required=True, type=cli_arguments.period, help="a UTC month, e.g. 2026-11")
    p.add_argument("--by", choices=["customer", "agent"], default="customer")
    p.add_argument(
        "--infra-cost-per-hour",
        type=cli_arguments.amount,
        default="0",  # argparse reads a string default with the type, when the command runs
        help="fixed infrastructure cost per hour",
    )
    p.add_argument(
        "--human-cost",
        type=cli_arguments.amount,
        help="what a human costs per successful task, for break-even volume",
    )
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.set_defaults(func=cmd_economics)


def _export_command(sub: argparse._SubParsersAction[CliParser]) -> None:
    p = sub.add_parser("export", help="usage per customer, meter and day, or invoice lines, to a file")
    p.add_argument("--period", required=True, type=cli_arguments.period, help="a UTC month, e.g. 2026-11")
    p.add_argument("--format", choices=["csv", "parquet", "jsonl", "stripe"], default="csv")
    p.add_argument("--data", choices=["usage", "invoice_lines"], default="usage")
    p.add_argument("--out", required=True, help="the file to write (never an existing one without --force)")
    p.add_argument("--force", action="store_true", help="replace the file if it exists")
    p.set_defaults(func=cmd_export)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure is one line on stderr and a non-zero status (see cli_errors)."""
    args = build_parser().parse_args(argv)
    if args.command != "worker" and not debugging():
        # The clients log each failed connection attempt; the command's own one line says it better.
        for library in QUIET_LIBRARIES:
            logging.getLogger(library).setLevel(logging.CRITICAL)
        # ...but why Kafka refused a connection is kept (not shown), for that line (cli_errors.classify).
        kafka = logging.getLogger("aiokafka")
        kafka.setLevel(logging.ERROR)
        kafka.propagate = False
        kafka.addHandler(KAFKA_REFUSALS)
    try:
        settings = get_settings()
    except ValidationError as exc:
        print(
            f"costline {args.command}: bad setting: {one_line(describe_validation(exc, setting=True))}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        return int(args.func(args, settings))
    except KeyboardInterrupt:
        print(f"costline {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        return report(args.command, exc)


if __name__ == "__main__":
    raise SystemExit(main())
