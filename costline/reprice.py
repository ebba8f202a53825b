"""Repricing the past, as a pure computation: what each counted event costs
now, by the catalog the worker prices with, against what the ledger holds.

The ledger keeps what is needed to price a usage row again (kind, provider,
model as sent, tokens, service tier, quantity); a row is rebuilt into the
event it was and priced by :meth:`streams.pricing.PriceCatalog.price`, so a
reprice and the worker can never disagree on a price. The difference
becomes a :class:`schemas.events.Correction`, appended through the usage
topic (:mod:`costline.reprice_runs`); nothing in the ledger is rewritten.

Storage rows are left alone: the ledger keeps their GB-months rounded to
1e-12, so pricing them again would "correct" rounding, not prices.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from schemas.events import MEDIA_TOKENS, Correction, UsageEvent, usage_event_adapter
from schemas.money import ZERO
from streams.pricing import PriceCatalog, UnpriceableEventError

# Kinds whose cost the ledger lets us compute again exactly.
REPRICED_KINDS = ("llm", "tool", "embedding", "vector_query", "compute", "human_review")


@dataclass(frozen=True, slots=True)
class Window:
    """What a reprice covers: events in [start, end), of a customer and a model if given."""

    start: datetime
    end: datetime
    customer: str = ""
    model: str = ""


@dataclass(frozen=True, slots=True)
class Repricing:
    """One counted event whose cost changes: the ledger row, its cost today and its new cost."""

    row: Mapping[str, Any]
    old: Decimal
    new: Decimal
    price_version: str

    @property
    def delta(self) -> Decimal:
        return self.new - self.old


@dataclass(slots=True)
class Line:
    """A customer's events of one model (SKU as priced): old and new cost."""

    customer: str
    sku: str
    events: int = 0
    old: Decimal = ZERO
    new: Decimal = ZERO

    @property
    def delta(self) -> Decimal:
        return self.new - self.old


@dataclass(slots=True)
class RepricePlan:
    lines: list[Line] = field(default_factory=list)
    changes: list[Repricing] = field(default_factory=list)  # only events whose cost changes
    skipped: dict[str, int] = field(default_factory=dict)  # why -> events left as they are

    @property
    def old(self) -> Decimal:
        return sum((line.old for line in self.lines), ZERO)

    @property
    def new(self) -> Decimal:
        return sum((line.new for line in self.lines), ZERO)

    @property
    def delta(self) -> Decimal:
        return self.new - self.old


def plan_reprice(rows: Iterable[Mapping[str, Any]], catalog: PriceCatalog) -> RepricePlan:
    """Each row priced again; ``rows`` are ledger rows with ``cost`` including earlier corrections."""
    plan = RepricePlan()
    lines: dict[tuple[str, str], Line] = {}
    for row in rows:
        if row["kind"] not in REPRICED_KINDS:
            why = f"{row['kind']} rows are not repriced"
            plan.skipped[why] = plan.skipped.get(why, 0) + 1
            continue
        try:
            priced = catalog.price(usage_of(row))
        except UnpriceableEventError as exc:
            why = f"no price now: {exc}"
            plan.skipped[why] = plan.skipped.get(why, 0) + 1
            continue
        line = lines.get((row["customer_id"], row["sku"]))
        if line is None:
            line = lines[row["customer_id"], row["sku"]] = Line(row["customer_id"], row["sku"])
        line.events += 1
        line.old += row["cost"]
        line.new += priced.cost
        if priced.cost != row["cost"]:
            plan.changes.append(Repricing(row, row["cost"], priced.cost, priced.price_version))
    plan.lines = sorted(lines.values(), key=lambda line: (line.customer, line.sku))
    return plan


def usage_of(row: Mapping[str, Any]) -> UsageEvent:
    """The event a ledger usage row was counted from, as far as its price goes."""
    kind, sku, quantity = row["kind"], row["sku"], row["quantity"]
    fields: dict[str, Any]
    match kind:
        case "llm":
            fields = {
                "provider": row["provider"],
                "model": row["model_sent"] or sku,
                "input_tokens": row["input_tokens"],
                "output_tokens": row["output_tokens"],
                "cached_input_tokens": row["cached_input_tokens"],
                "cache_write_tokens": row["cache_write_tokens"],
                "reasoning_tokens": row["reasoning_tokens"],
                "batch": bool(row["batch"]),
                "service_tier": row["service_tier"] or None,
                **{name: row[name] for name in MEDIA_TOKENS},
            }
        case "tool":
            fields = {"tool": sku, "calls": int(quantity)}
        case "embedding":
            fields = {"model": sku, "tokens": row["input_tokens"]}
        case "vector_query":
            fields = {"provider": sku, "queries": int(quantity)}
        case "compute":
            fields = {"sku": sku, "seconds": quantity}
        case _:  # human_review
            fields = {"sku": sku, "minutes": quantity}
    return usage_event_adapter.validate_python({**_identity(row), "kind": kind, **fields})


def _identity(row: Mapping[str, Any]) -> dict[str, Any]:
    at = row["occurred_at"]
    if isinstance(at, datetime) and at.tzinfo is None:  # ClickHouse's UTC columns read back naive
        at = at.replace(tzinfo=UTC)
    identity = {
        "event_id": row["event_id"],
        "occurred_at": at,
        "customer_id": row["customer_id"],
        "agent_id": row["agent_id"],
        "attributes": dict(row["attributes"]),
    }
    for name in ("user_id", "task_id", "request_id"):
        if row[name]:
            identity[name] = row[name]
    return identity


def correction_id(run_id: str, event_id: str) -> str:
    """The same run correcting the same event always yields the same id, so a republish is a duplicate."""
    digest = hashlib.sha256(f"{run_id}\x1f{event_id}".encode()).hexdigest()[:32]
    return f"correction-{digest}"


def corrections(plan: RepricePlan, run_id: str, reason: str) -> list[Correction]:
    """The correction events that bring each changed event to its new cost."""
    out = []
    for change in plan.changes:
        row = change.row
        out.append(
            Correction.model_validate(
                {
                    **_identity(row),
                    "event_id": correction_id(run_id, row["event_id"]),
                    "kind": "correction",
                    "corrects": row["event_id"],
                    "corrected_kind": row["kind"],
                    "run_id": run_id,
                    "reason": reason,
                    "cost_delta": change.delta,
                    "provider": row["provider"],
                    "sku": row["sku"],
                    "model_sent": row["model_sent"],
                    "price_version": change.price_version,
                }
            )
        )
    return out
