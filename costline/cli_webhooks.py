"""``costline webhooks``: endpoints that receive alerts, their deliveries, and the sender."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from datetime import UTC, datetime

from costline.cli_errors import CliParser, UsageError
from costline.config import Settings

ACTIONS = ("add", "list", "remove", "deliveries", "redeliver", "run")


def add_webhook_commands(sub: argparse._SubParsersAction[CliParser]) -> None:
    p = sub.add_parser(
        "webhooks",
        help="alert webhooks: add (prints the signing secret once), list, remove, deliveries, redeliver, run",
    )
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("target", nargs="?", help="add: the URL; remove: the endpoint id; redeliver: the alert id")
    p.add_argument("--customer", help="add: only this customer's alerts (default: every customer's)")
    p.add_argument("--description", default="", help="add: a label, e.g. who receives it")
    p.add_argument("--status", choices=["pending", "delivered", "failed"], help="deliveries: only these")
    p.add_argument("--limit", type=int, default=50, help="deliveries: at most this many (default 50)")
    p.set_defaults(func=cmd_webhooks)


def cmd_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    from costline.clickhouse import open_client
    from costline.webhooks import deliveries
    from costline.webhooks.endpoints import EndpointError, add_endpoint, list_endpoints, remove_endpoint
    from costline.webhooks.retries import DeliveryStatus
    from costline.webhooks.runner import describe

    if args.action == "run":
        return _run(settings)
    client = open_client(settings)
    try:
        if args.action == "add":
            endpoint = add_endpoint(
                client, _needed(args, "the URL to post alerts to"), args.customer, args.description
            )
            whose = _whose(endpoint.customer_id)
            print(f"added webhook endpoint {endpoint.endpoint_id}: {endpoint.url} ({whose})")
            print(f"signing secret (shown once, keep it safe): {endpoint.secret}")
        elif args.action == "remove":
            endpoint = remove_endpoint(
                client, _needed(args, "the endpoint's id (see `costline webhooks list`)")
            )
            print(f"removed webhook endpoint {endpoint.endpoint_id}: {endpoint.url}")
        elif args.action == "list":
            for e in list_endpoints(client):
                print(f"{e.endpoint_id}  {e.url}  {_whose(e.customer_id)}  {e.description or '-'}")
        elif args.action == "deliveries":
            status = DeliveryStatus(args.status) if args.status else None
            for delivery in deliveries.find(client, status, limit=args.limit):
                print("  ".join(part for part in describe(delivery) if part))
        else:
            alert_id = _needed(args, "the alert's id (see `costline webhooks deliveries`)")
            count = deliveries.redeliver(client, alert_id, datetime.now(UTC))
            if not count:
                raise UsageError(f"no delivery of alert {alert_id!r} to redeliver")
            print(f"queued {count} deliveries of alert {alert_id} again")
    except EndpointError as exc:
        raise UsageError(str(exc)) from None
    return 0


def _run(settings: Settings) -> int:
    from costline.kafka import ensure_topics
    from costline.webhooks.runner import WebhookRunner

    async def main() -> None:
        await ensure_topics(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        print(f"delivering alerts from {settings.alerts_topic} to webhooks; Ctrl-C stops", file=sys.stderr)
        await WebhookRunner(settings).run(stop)

    asyncio.run(main())
    return 0


def _needed(args: argparse.Namespace, what: str) -> str:
    if not args.target:
        raise UsageError(f"webhooks {args.action} needs {what}")
    return str(args.target)


def _whose(customer_id: str | None) -> str:
    return f"customer {customer_id}" if customer_id else "every customer"
