"""Render cost rows as a terminal table, JSON or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal

import orjson

from billing.costs import CostRow
from schemas.money import MICRO


def render(rows: Sequence[CostRow], headers: Sequence[str], fmt: str) -> str:
    if fmt == "json":
        return orjson.dumps(
            [
                dict(zip(headers, r.group, strict=True))
                | {"cost": str(r.cost), "events": r.events, "quantity": str(r.quantity), "unit": r.unit}
                for r in rows
            ],
            option=orjson.OPT_INDENT_2,
        ).decode()
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*headers, "cost", "events", "quantity", "unit"])
        for r in rows:
            writer.writerow([*r.group, r.cost, r.events, r.quantity, r.unit])
        return out.getvalue()
    return table(rows, headers)


def table(rows: Sequence[CostRow], headers: Sequence[str]) -> str:
    """A readable table: cost shown to the micro-dollar, with a total line."""
    body = [
        [
            *r.group,
            f"{r.events:,}",
            f"{_quantity(r.quantity)} {r.unit}",
            f"${r.cost.quantize(MICRO, ROUND_HALF_EVEN):,}",
        ]
        for r in rows
    ]
    total = sum((r.cost for r in rows), Decimal(0))
    cols = [*headers, "events", "quantity", "cost (USD)"]
    footer = [
        "TOTAL",
        *[""] * (len(headers) - 1),
        f"{sum(r.events for r in rows):,}",
        "",
        f"${total.quantize(MICRO, ROUND_HALF_EVEN):,}",
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(cols, *body, footer, strict=True)]
    numeric = {len(cols) - 3, len(cols) - 2, len(cols) - 1}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in numeric else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cols), rule, *map(line, body), rule, line(footer)])


def _quantity(quantity: Decimal) -> str:
    """Whole numbers as such, fractions to six places, thousands separated."""
    if quantity == quantity.to_integral_value():
        return f"{quantity.to_integral_value():,f}"
    return f"{quantity.quantize(MICRO, ROUND_HALF_EVEN):,f}"
