"""An invoice as a text table, JSON, CSV or a printable HTML page."""

from __future__ import annotations

import csv
import html
import io
import json
from decimal import Decimal
from typing import Any

from billing.invoices import Invoice
from billing.rating import Line
from schemas.money import MICRO

FORMATS = ("table", "json", "csv", "html")


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
