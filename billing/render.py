"""Every billing renderer: invoices, cost rows and unit economics, as text, JSON, CSV (and HTML).

Renderers take what the domain modules return and give back a string; the
CLI prints it. Money is never a float: JSON carries it as strings.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

import orjson

from billing.costs import CostRow
from billing.economics import EconomicsReport, Figures
from billing.exceptions import BillingError
from billing.invoices import Invoice
from billing.rating import Line
from schemas.money import CENT, MICRO

FORMATS = ("table", "json", "csv", "html")  # an invoice's
EconomicsFormat = Literal["table", "json", "csv"]
ECONOMICS_FORMATS: tuple[EconomicsFormat, ...] = ("table", "json", "csv")
UNATTRIBUTED = "(unattributed)"  # the agent column of revenue no agent's cost could carry


# --- invoices ---------------------------------------------------------------------------------------


def render_invoice(invoice: Invoice, fmt: str) -> str:
    match fmt:
        case "table":
            return _table(invoice)
        case "json":
            return json.dumps(invoice_document(invoice), indent=2) + "\n"
        case "csv":
            return _csv(invoice)
        case "html":
            return _html(invoice)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _number(value: Decimal) -> str:
    """A quantity without exponent or trailing zeros: 12500, 0.5, 4838.709677."""
    exponent = value.as_tuple().exponent
    shown = value.quantize(MICRO) if isinstance(exponent, int) and exponent < -6 else value
    return f"{shown.normalize():f}"


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _price(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


def line_document(line: Line) -> dict[str, Any]:
    return {
        "description": line.description,
        "kind": line.kind,
        "meter": line.meter,
        "quantity": _number(line.quantity),
        "included": _number(line.included),
        "billable": _number(line.billable),
        "unit_price": _price(line.unit_price) or None,
        "detail": line.detail,
        "amount": f"{line.amount:.2f}",
        "adjusts_period": line.adjusts_period or None,
    }


def invoice_document(invoice: Invoice) -> dict[str, Any]:
    """The invoice as JSON-ready data; money as strings, never floats."""
    return {
        "invoice_id": invoice.invoice_id,
        "customer_id": invoice.customer_id,
        "period": invoice.period.label,
        "status": invoice.status,
        "finalized_at": invoice.finalized_at.isoformat() if invoice.finalized_at else None,
        "currency": invoice.currency,
        "lines": [line_document(line) for line in invoice.lines],
        "subtotal": f"{invoice.subtotal:.2f}",
        "credits_applied": f"{invoice.credits_applied:.2f}",
        "total": f"{invoice.total:.2f}",
        "rounding": invoice.rounding,
    }


def _table(invoice: Invoice) -> str:
    head = ["description", "quantity", "included", "billable", "unit price", "amount"]
    rows = [
        [
            line.description + (f"\n  {line.detail}" if line.detail else ""),
            _number(line.quantity),
            _number(line.included) if line.included else "",
            _number(line.billable),
            _price(line.unit_price),
            _money(line.amount),
        ]
        for line in invoice.lines
    ]
    flat: list[list[str]] = []
    for row in rows:
        first, *rest = row[0].split("\n")
        flat.append([first, *row[1:]])
        flat.extend([extra, "", "", "", "", ""] for extra in rest)
    widths = [max(len(r[i]) for r in [head, *flat]) for i in range(len(head))]

    def fmt(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    rule = "-" * len(fmt(head))
    width = len(rule)
    out = [
        f"Invoice {invoice.invoice_id} ({invoice.status})  customer {invoice.customer_id}  "
        f"period {invoice.period.label}  {invoice.currency}",
        rule,
        fmt(head),
        rule,
        *(fmt(r) for r in flat),
        rule,
        f"{'Subtotal':<20}{_money(invoice.subtotal):>{width - 20}}",
        f"{'Credits applied':<20}{_money(-invoice.credits_applied):>{width - 20}}",
        f"{'Total':<20}{_money(invoice.total):>{width - 20}}",
        "",
        invoice.rounding,
    ]
    return "\n".join(out) + "\n"


def _csv(invoice: Invoice) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    fields = list(line_document(invoice.lines[0]).keys()) if invoice.lines else ["description", "amount"]
    writer.writerow(["invoice_id", "customer_id", "period", *fields])
    for line in invoice.lines:
        writer.writerow([invoice.invoice_id, invoice.customer_id, invoice.period.label,
                         *(v if v is not None else "" for v in line_document(line).values())])  # fmt: skip
    for label, value in (
        ("subtotal", invoice.subtotal),
        ("credits_applied", -invoice.credits_applied),
        ("total", invoice.total),
    ):
        writer.writerow([invoice.invoice_id, invoice.customer_id, invoice.period.label, label]
                        + [""] * (len(fields) - 3) + [f"{value:.2f}", ""])  # fmt: skip
    return buffer.getvalue()


_STYLE = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d2330;
       max-width: 820px; margin: 40px auto; padding: 0 24px; }
header { display: flex; justify-content: space-between; align-items: flex-start; margin-bottom: 28px; }
h1 { font-size: 22px; margin: 0 0 4px; letter-spacing: .02em; }
.muted { color: #667085; }
.badge { display: inline-block; padding: 2px 8px; border-radius: 10px; font-size: 12px;
         background: #eef2ff; color: #3730a3; text-transform: uppercase; letter-spacing: .05em; }
.badge.draft { background: #fef3c7; color: #92400e; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-weight: 600; font-size: 12px; color: #667085; text-transform: uppercase;
     letter-spacing: .04em; border-bottom: 2px solid #d0d5dd; padding: 8px 6px; }
td { border-bottom: 1px solid #eaecf0; padding: 8px 6px; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.detail { font-size: 12px; color: #667085; }
tfoot td { border: 0; padding: 4px 6px; }
tfoot tr.total td { font-size: 16px; font-weight: 700; border-top: 2px solid #1d2330; padding-top: 10px; }
footer { margin-top: 32px; font-size: 12px; color: #667085; }
@media print { body { margin: 0; } .badge { border: 1px solid #999; } }
"""


def _html(invoice: Invoice) -> str:
    e = html.escape
    rows = "\n".join(
        "<tr>"
        f"<td>{e(line.description)}"
        + (f'<div class="detail">{e(line.detail)}</div>' if line.detail else "")
        + "</td>"
        f'<td class="num">{e(_number(line.quantity))}</td>'
        f'<td class="num">{e(_number(line.included)) if line.included else ""}</td>'
        f'<td class="num">{e(_price(line.unit_price))}</td>'
        f'<td class="num">{e(_money(line.amount))}</td>'
        "</tr>"
        for line in invoice.lines
    )
    status = invoice.status
    issued = f"Finalized {invoice.finalized_at:%Y-%m-%d %H:%M} UTC" if invoice.finalized_at else "Draft"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Invoice {e(invoice.invoice_id)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
  <div>
    <h1>Invoice</h1>
    <div class="muted">{e(invoice.invoice_id)}</div>
  </div>
  <div style="text-align:right">
    <span class="badge {e(status)}">{e(status)}</span>
    <div class="muted">{e(issued)}</div>
  </div>
</header>
<p><strong>Customer</strong> {e(invoice.customer_id)}<br>
<strong>Period</strong> {e(invoice.period.label)} ({invoice.period.first_day:%B %Y}, UTC)<br>
<strong>Currency</strong> {e(invoice.currency)}</p>
<table>
<thead><tr><th>Description</th><th class="num">Quantity</th><th class="num">Included</th>
<th class="num">Unit price</th><th class="num">Amount</th></tr></thead>
<tbody>
{rows}
</tbody>
<tfoot>
<tr><td colspan="4">Subtotal</td><td class="num">{_money(invoice.subtotal)}</td></tr>
<tr><td colspan="4">Credits applied</td><td class="num">{_money(-invoice.credits_applied)}</td></tr>
<tr class="total"><td colspan="4">Total due ({e(invoice.currency)})</td>
<td class="num">{_money(invoice.total)}</td></tr>
</tfoot>
</table>
<footer>{e(invoice.rounding)} Amounts are computed exactly from the priced ledger before rounding.</footer>
</body>
</html>
"""


# --- costs ------------------------------------------------------------------------------------------


def render_costs(rows: Sequence[CostRow], headers: Sequence[str], fmt: str) -> str:
    """Cost rows as JSON, CSV or (any other ``fmt``) a table."""
    if fmt == "json":
        return orjson.dumps([cost_document(r, headers) for r in rows], option=orjson.OPT_INDENT_2).decode()
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*headers, "cost", "events", "quantity", "unit"])
        for r in rows:
            writer.writerow([*r.group, r.cost, r.events, r.quantity, r.unit])
        return out.getvalue()
    return costs_table(rows, headers)


def cost_document(row: CostRow, headers: Sequence[str]) -> dict[str, Any]:
    """A cost row as JSON-ready data: its groupings by name, money as an exact string."""
    return dict(zip(headers, row.group, strict=True)) | {
        "cost": f"{row.cost:f}",  # never an exponent: a zero cost reads 0.000000000000, not 0E-12
        "events": row.events,
        "quantity": f"{row.quantity:f}",
        "unit": row.unit,
    }


def costs_table(rows: Sequence[CostRow], headers: Sequence[str]) -> str:
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


# --- unit economics ---------------------------------------------------------------------------------


def render_economics(report: EconomicsReport, fmt: EconomicsFormat) -> str:
    match fmt:
        case "table":
            return _economics_table(report)
        case "json":
            return json.dumps(economics_document(report), indent=2)
        case "csv":
            return _economics_csv(report)
    raise BillingError(f"unknown format {fmt!r}; choose one of {', '.join(ECONOMICS_FORMATS)}")


def _usd(value: Decimal, places: Decimal) -> str:
    shown = value.quantize(places, ROUND_HALF_EVEN)
    return f"{'-' if shown < 0 else ''}${abs(shown):,}"


def _cost(value: Decimal | None) -> str:
    return "n/a" if value is None else _usd(value, MICRO)


def _revenue(value: Decimal) -> str:
    return _usd(value, CENT)


def _percent(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value.quantize(CENT, ROUND_HALF_EVEN)}%"


def break_even_label(figures: Figures, human_cost: Decimal | None) -> str | None:
    """How break-even reads: a number of successful tasks, "never", "n/a" (no success), or None."""
    if human_cost is None:
        return None
    if figures.successful_tasks == 0:
        return "n/a"
    return "never" if figures.break_even_tasks is None else str(figures.break_even_tasks)


def _exact(value: Decimal | None) -> str | None:
    """Money as an exact string, with at least the cents: "0.00", "22.00", "1.800000000000"."""
    if value is None:
        return None
    exponent = value.as_tuple().exponent
    return str(value.quantize(CENT) if isinstance(exponent, int) and exponent > -2 else value)


def _figures_document(figures: Figures, human_cost: Decimal | None) -> dict[str, Any]:
    return {
        "revenue": _exact(figures.revenue),
        "cost": _exact(figures.cost),
        "margin": _exact(figures.margin),
        "margin_pct": None if figures.margin_pct is None else str(figures.margin_pct),
        "tasks": figures.tasks,
        "successful_tasks": figures.successful_tasks,
        "task_cost": _exact(figures.task_cost),
        "cost_per_successful_task": _exact(figures.cost_per_successful_task),
        "break_even_tasks": figures.break_even_tasks,
        "break_even": break_even_label(figures, human_cost),
    }


def _row_key(report: EconomicsReport) -> list[str]:
    return ["customer_id", "agent_id"] if report.by == "agent" else ["customer_id"]


def economics_document(report: EconomicsReport) -> dict[str, Any]:
    """The report as JSON-ready data; money as strings, never floats."""
    conv = report.conversations
    key = _row_key(report)
    return {
        "period": report.period.label,
        "by": report.by,
        "currency": report.currency,
        "infra_cost_per_hour": _exact(report.infra_cost_per_hour),
        "human_cost": _exact(report.human_cost),
        "rows": [
            {k: getattr(row, k) for k in key} | _figures_document(row, report.human_cost)
            for row in report.rows
        ],
        "total": _figures_document(report.total, report.human_cost),
        "conversations": {
            "conversations": conv.conversations,
            "hours_with_conversations": conv.hours,
            "direct_cost": _exact(conv.direct_cost),
            "infra_cost": _exact(conv.infra_cost),
            "cost_per_conversation": _exact(conv.cost_per_conversation),
        },
        "break_even": {
            "human_cost": _exact(report.human_cost),
            "hours_in_period": report.hours,
            "fixed_cost": _exact(report.fixed_cost),
            "cost_per_successful_task": _exact(report.total.cost_per_successful_task),
            "successful_tasks": report.total.break_even_tasks,
            "label": break_even_label(report.total, report.human_cost),
        },
    }


def _economics_csv(report: EconomicsReport) -> str:
    document = economics_document(report)
    key = _row_key(report)
    fields = [f for f in _figures_document(report.total, report.human_cost) if f != "break_even_tasks"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # Conversation figures exist only for the whole period, so only the TOTAL row carries them.
    writer.writerow([*key, *fields, "conversations", "cost_per_conversation"])
    for row in document["rows"]:
        writer.writerow([_cell(row[k]) for k in [*key, *fields]] + ["", ""])
    conv = document["conversations"]
    total = document["total"]
    blanks = [""] * (len(key) - 1)
    totals = [_cell(total[f]) for f in fields]
    writer.writerow(["TOTAL", *blanks, *totals, conv["conversations"], _cell(conv["cost_per_conversation"])])
    return out.getvalue()


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _economics_table(report: EconomicsReport) -> str:
    lines = [
        f"Unit economics {report.period.label} by {report.by} ({report.currency})",
        "",
        *_economics_grid(report),
        "",
        *_economics_notes(report),
        *_break_even_notes(report),
    ]
    return "\n".join(lines)


def _economics_grid(report: EconomicsReport) -> list[str]:
    """The rows and the TOTAL, in aligned columns."""
    by_agent = report.by == "agent"
    human = report.human_cost
    cols = ["customer", *(["agent"] if by_agent else [])]
    cols += ["revenue", "cost", "margin", "margin %", "tasks", "succeeded", "cost/success"]
    cols += ["break-even"] if human is not None else []

    def cells(key: list[str], figures: Figures) -> list[str]:
        out = [
            *key,
            _revenue(figures.revenue),
            _cost(figures.cost),
            _cost(figures.margin),
            _percent(figures.margin_pct),
            f"{figures.tasks:,}",
            f"{figures.successful_tasks:,}",
            _cost(figures.cost_per_successful_task),
        ]
        return out + ([break_even_label(figures, human) or ""] if human is not None else [])

    body = [
        cells([row.customer_id, *([row.agent_id or UNATTRIBUTED] if by_agent else [])], row)
        for row in report.rows
    ]
    footer = cells(["TOTAL", *([""] if by_agent else [])], report.total)
    widths = [max(len(x) for x in col) for col in zip(cols, *body, footer, strict=True)]
    first_number = 2 if by_agent else 1

    def line(row: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i >= first_number else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return [line(cols), rule, *map(line, body), rule, line(footer)]


def _economics_notes(report: EconomicsReport) -> list[str]:
    """What revenue, cost per successful task and cost per conversation mean, with the latter's sum."""
    conv = report.conversations
    per_conversation = conv.cost_per_conversation
    return [
        "Revenue: each customer's invoice total for the month (final if finalized, else the draft)"
        + (";\n  split between its agents by their share of its cost." if report.by == "agent" else "."),
        "Cost per successful task: the cost of every event with a task_id (attempts, retries,",
        "  failed tasks, human review) / tasks with a successful outcome.",
        f"Cost per conversation: {conv.conversations:,} conversation(s) started in "
        f"{conv.hours:,} UTC hour(s);",
        f"  direct cost {_cost(conv.direct_cost)} + infra {_cost(report.infra_cost_per_hour)}/h × "
        f"{conv.hours:,} h = {_cost(conv.infra_cost)} -> {_cost(per_conversation)} per conversation.",
    ]


def _break_even_notes(report: EconomicsReport) -> list[str]:
    human = report.human_cost
    if human is None:
        return ["Break-even volume: give a human cost per successful task (--human-cost)."]
    label = break_even_label(report.total, human) or ""
    verdict = {"never": "never (a human costs no more per task)", "n/a": "n/a (no successful task)"}
    return [
        f"Break-even at a human cost of {_cost(human)} per successful task: fixed cost "
        f"{_cost(report.fixed_cost)}",
        f"  (infra {_cost(report.infra_cost_per_hour)}/h × {report.hours:,} h) / ({_cost(human)} - "
        f"{_cost(report.total.cost_per_successful_task)} per successful task)",
        f"  -> {verdict.get(label, f'{label} successful tasks in {report.period.label}')}.",
    ]
