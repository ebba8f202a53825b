"""Unit economics: what a month earned against what it cost, per customer or per agent.

Definitions (a period is a UTC calendar month; money is ``Decimal`` end to end):

Revenue
    A customer's revenue is its invoice total for the period
    (:func:`billing.invoices.invoice_for`: the finalized invoice when one is
    stored, otherwise a draft from the ledger as it is now; the total is the
    subtotal less prepaid credits applied, and includes any adjustment lines
    for earlier months that invoice carries). Only customers with a
    subscription in the period have an invoice; a customer with usage but no
    subscription has revenue 0 and is still listed, and a customer with a
    subscription but no usage is listed with cost 0.
Cost
    The sum of ledger ``cost`` over the period (``ledger FINAL``).
Gross margin
    revenue − cost. Margin % = 100 × (revenue − cost) / revenue, to 4
    decimal places; ``None`` when revenue is 0.
By agent
    Rows are (customer, agent) and cost is the agent's own. Revenue is
    *attributed*, not measured: a customer's revenue is split between its
    agents in proportion to each agent's share of that customer's cost (the
    last agent takes the remainder, so the shares add up to the invoice
    exactly). A customer whose cost is 0 gives nothing to split by; its
    revenue goes on an unattributed row (``agent_id`` is ``None``).
Tasks
    tasks = distinct non-empty ``task_id`` among the row's events; successful
    tasks = distinct ``task_id`` with an ``outcome`` event with ``success =
    true`` among the row's events; task cost = the cost of all the row's
    events that carry a ``task_id``: first attempts, retries, tasks that never
    succeeded and ``human_review`` rows of those tasks (a review counts for
    the agent whose ``agent_id`` it carries). Cost per successful task = task
    cost / successful tasks; ``None`` when no task succeeded. A ``task_id``
    belongs to its customer, so totals add the customers' figures.
Cost per conversation
    A conversation is a distinct ``task_id`` of a customer (keyed by
    ``(customer_id, task_id)``: task ids are the customers' own, so two
    customers may both have a ``t1``). It starts at its first event in the
    period. In each UTC hour in which at least one conversation started, the
    infrastructure cost of that hour is shared equally by the conversations
    that started in it, and added to their direct cost (the cost of all their
    events). The mean over conversations is therefore (direct cost +
    infra cost per hour × hours with conversations) / conversations; ``None``
    when there was no conversation. Hours in which no conversation started
    are charged to none (they are part of break-even's fixed cost).
Break-even volume
    With a human cost H per successful task, the fixed cost F = infra cost per
    hour × the hours of the period (24 × its days) and the cost per successful
    task c, doing N tasks with agents costs F + N × c and by hand N × H, so
    break-even N = ceil(F / (H − c)), computed exactly. ``None`` when H ≤ c
    ("never": agents cost at least what a human does on every task), or when
    c is unknown (no successful task). It is given for the total and for each
    row, as if that row alone carried the whole fixed cost.

Derived money (revenue shares, costs per task and per conversation) is kept to
12 decimal places, the ledger's scale, rounded half-even. Tables show costs
to 6 decimal places and revenue to 2; JSON carries money as strings.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from fractions import Fraction
from typing import Any, Literal

from clickhouse_connect.driver.client import Client

from billing.invoices import BillingContext, BillingError, Period, invoice_for, subscribed
from costline.clickhouse import open_client, read_query
from costline.config import Settings
from schemas.money import CENT, MICRO, ZERO

By = Literal["customer", "agent"]
Format = Literal["table", "json", "csv"]
BY: tuple[By, ...] = ("customer", "agent")
FORMATS: tuple[Format, ...] = ("table", "json", "csv")

SCALE = 12  # the ledger's Decimal(38, 12)
PERCENT_PLACES = 4
UNATTRIBUTED = "(unattributed)"
# Sums of Decimal(38, 12) values can need more than the default 28 significant digits.
PRECISION = 80


def _quotient(numerator: Fraction, places: int = SCALE) -> Decimal:
    """An exact fraction rounded once, half-even, to ``places`` decimals."""
    return Decimal(f"{round(numerator * 10**places)}E-{places}")


def _sum(values: Iterable[Decimal]) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return sum(values, ZERO)


def _times(amount: Decimal, count: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return amount * count


def break_even_volume(
    fixed_cost: Decimal, human_cost: Decimal | None, task_cost: Decimal, successful_tasks: int
) -> int | None:
    """Successful tasks at which agents (F + N × c) cost what humans (N × H) do, rounded up.

    ``None`` without a human cost, without a successful task (c unknown), or
    when H ≤ c and no volume ever pays for the fixed cost.
    """
    if human_cost is None or successful_tasks == 0:
        return None
    saving_per_task = Fraction(human_cost) - Fraction(task_cost) / successful_tasks
    if saving_per_task <= 0:
        return None
    return math.ceil(Fraction(fixed_cost) / saving_per_task)


@dataclass(frozen=True, kw_only=True)
class Figures:
    """Revenue, cost and task figures of one row, or of the whole period."""

    revenue: Decimal
    cost: Decimal
    tasks: int
    successful_tasks: int
    task_cost: Decimal
    break_even_tasks: int | None = None

    @property
    def margin(self) -> Decimal:
        with localcontext() as ctx:
            ctx.prec = PRECISION
            return self.revenue - self.cost

    @property
    def margin_pct(self) -> Decimal | None:
        if self.revenue == 0:
            return None
        return _quotient(100 * Fraction(self.margin) / Fraction(self.revenue), PERCENT_PLACES)

    @property
    def cost_per_successful_task(self) -> Decimal | None:
        if self.successful_tasks == 0:
            return None
        return _quotient(Fraction(self.task_cost) / self.successful_tasks)


@dataclass(frozen=True, kw_only=True)
class EconomicsRow(Figures):
    customer_id: str
    agent_id: str | None  # None: a row by customer, or revenue no agent's cost could carry


@dataclass(frozen=True)
class ConversationCost:
    conversations: int
    hours: int  # UTC hours in which at least one conversation started
    direct_cost: Decimal  # all events of the conversations
    infra_cost_per_hour: Decimal

    @property
    def infra_cost(self) -> Decimal:
        return _times(self.infra_cost_per_hour, self.hours)

    @property
    def cost_per_conversation(self) -> Decimal | None:
        if self.conversations == 0:
            return None
        return _quotient((Fraction(self.direct_cost) + Fraction(self.infra_cost)) / self.conversations)


@dataclass(frozen=True)
class EconomicsReport:
    period: Period
    by: By
    currency: str
    infra_cost_per_hour: Decimal
    human_cost: Decimal | None
    rows: list[EconomicsRow]
    total: Figures
    conversations: ConversationCost

    @property
    def hours(self) -> int:
        return self.period.days * 24

    @property
    def fixed_cost(self) -> Decimal:
        return _times(self.infra_cost_per_hour, self.hours)


@dataclass(frozen=True)
class _Usage:
    cost: Decimal = ZERO
    tasks: int = 0
    successful_tasks: int = 0
    task_cost: Decimal = ZERO


def _usage_rows(client: Client, query: str, period: Period) -> list[tuple[Any, ...]]:
    parameters = {"from": period.start, "to": period.end}
    return [tuple(r) for r in client.query(read_query(query), parameters=parameters).result_rows]


def _usage(cost: Any, tasks: Any, successful: Any, task_cost: Any) -> _Usage:
    return _Usage(Decimal(cost), int(tasks), int(successful), Decimal(task_cost))


def _revenues(client: Client, period: Period, customers: Iterable[str]) -> dict[str, Decimal]:
    """Invoice totals of the subscribed customers; 0 for the others in ``customers``."""
    revenue = dict.fromkeys(customers, ZERO)
    ctx = BillingContext.load(client)
    for customer in subscribed(client, period):
        revenue[customer] = invoice_for(ctx, customer, period).total
    return revenue


def _split(revenue: Decimal, costs: list[Decimal]) -> list[Decimal]:
    """``revenue`` in proportion to ``costs`` (which do not add up to 0); the shares add up exactly."""
    whole = Fraction(_sum(costs))
    shares = [_quotient(Fraction(revenue) * Fraction(cost) / whole) for cost in costs[:-1]]
    return [*shares, _sum([revenue, *(-share for share in shares)])]


def _check_amount(name: str, value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise BillingError(f"{name} must be a non-negative amount, not {value}")
    return value


def economics(
    client: Client,
    period: Period,
    by: By = "customer",
    infra_cost_per_hour: Decimal = ZERO,
    human_cost: Decimal | None = None,
) -> EconomicsReport:
    """Revenue against cost for ``period``, per customer or per (customer, agent); see the module doc."""
    if by not in BY:
        raise BillingError(f"economics are by customer or by agent, not {by!r}")
    _check_amount("the infrastructure cost per hour", infra_cost_per_hour)
    if human_cost is not None:
        _check_amount("the human cost per task", human_cost)
    fixed_cost = _times(infra_cost_per_hour, period.days * 24)

    def figures(revenue: Decimal, usage: _Usage) -> dict[str, Any]:
        return {
            "revenue": revenue,
            "cost": usage.cost,
            "tasks": usage.tasks,
            "successful_tasks": usage.successful_tasks,
            "task_cost": usage.task_cost,
            "break_even_tasks": break_even_volume(
                fixed_cost, human_cost, usage.task_cost, usage.successful_tasks
            ),
        }

    def row(customer: str, agent: str | None, revenue: Decimal, usage: _Usage) -> EconomicsRow:
        return EconomicsRow(customer_id=customer, agent_id=agent, **figures(revenue, usage))

    by_customer: dict[str, _Usage] = {}
    agents: dict[str, list[tuple[str, _Usage]]] = defaultdict(list)
    for customer, agent, *rest in _usage_rows(client, "economics_usage", period):
        if agent is None:
            by_customer[customer] = _usage(*rest)
        else:
            agents[customer].append((agent, _usage(*rest)))
    revenue = _revenues(client, period, by_customer)
    rows: list[EconomicsRow] = []
    if by == "customer":
        rows = [row(c, None, revenue[c], by_customer.get(c, _Usage())) for c in sorted(revenue)]
    else:
        for customer in sorted(revenue):
            own = agents.get(customer, [])
            costs = [usage.cost for _, usage in own]
            shares = _split(revenue[customer], costs) if _sum(costs) != 0 else [ZERO] * len(own)
            rows += [row(customer, agent, share, u) for (agent, u), share in zip(own, shares, strict=True)]
            if _sum(costs) == 0 and (revenue[customer] != 0 or not own):
                # No cost to split by: the revenue stays visible rather than silently vanishing.
                rows.append(row(customer, None, revenue[customer], _Usage()))
    everyone = list(by_customer.values())
    total_usage = _Usage(
        _sum(u.cost for u in everyone),
        sum(u.tasks for u in everyone),
        sum(u.successful_tasks for u in everyone),
        _sum(u.task_cost for u in everyone),
    )
    total = Figures(**figures(_sum(revenue.values()), total_usage))
    hours = _usage_rows(client, "conversation_hours", period)
    conversations = ConversationCost(
        conversations=sum(int(n) for _, n, _ in hours),
        hours=len(hours),
        direct_cost=_sum(Decimal(cost) for _, _, cost in hours),
        infra_cost_per_hour=infra_cost_per_hour,
    )
    return EconomicsReport(period, by, "USD", infra_cost_per_hour, human_cost, rows, total, conversations)


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


def _text(value: Decimal | None) -> str | None:
    """Money as an exact string, with at least the cents: "0.00", "22.00", "1.800000000000"."""
    if value is None:
        return None
    exponent = value.as_tuple().exponent
    return str(value.quantize(CENT) if isinstance(exponent, int) and exponent > -2 else value)


def _figures_document(figures: Figures, human_cost: Decimal | None) -> dict[str, Any]:
    return {
        "revenue": _text(figures.revenue),
        "cost": _text(figures.cost),
        "margin": _text(figures.margin),
        "margin_pct": None if figures.margin_pct is None else str(figures.margin_pct),
        "tasks": figures.tasks,
        "successful_tasks": figures.successful_tasks,
        "task_cost": _text(figures.task_cost),
        "cost_per_successful_task": _text(figures.cost_per_successful_task),
        "break_even_tasks": figures.break_even_tasks,
        "break_even": break_even_label(figures, human_cost),
    }


def economics_document(report: EconomicsReport) -> dict[str, Any]:
    """The report as JSON-ready data; money as strings, never floats."""
    conv = report.conversations
    key = ["customer_id", "agent_id"] if report.by == "agent" else ["customer_id"]
    return {
        "period": report.period.label,
        "by": report.by,
        "currency": report.currency,
        "infra_cost_per_hour": _text(report.infra_cost_per_hour),
        "human_cost": _text(report.human_cost),
        "rows": [
            {k: getattr(row, k) for k in key} | _figures_document(row, report.human_cost)
            for row in report.rows
        ],
        "total": _figures_document(report.total, report.human_cost),
        "conversations": {
            "conversations": conv.conversations,
            "hours_with_conversations": conv.hours,
            "direct_cost": _text(conv.direct_cost),
            "infra_cost": _text(conv.infra_cost),
            "cost_per_conversation": _text(conv.cost_per_conversation),
        },
        "break_even": {
            "human_cost": _text(report.human_cost),
            "hours_in_period": report.hours,
            "fixed_cost": _text(report.fixed_cost),
            "cost_per_successful_task": _text(report.total.cost_per_successful_task),
            "successful_tasks": report.total.break_even_tasks,
            "label": break_even_label(report.total, report.human_cost),
        },
    }


def _csv(report: EconomicsReport) -> str:
    document = economics_document(report)
    key = ["customer_id", "agent_id"] if report.by == "agent" else ["customer_id"]
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


def _table(report: EconomicsReport) -> str:
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
    conv = report.conversations
    per_conversation = conv.cost_per_conversation
    lines = [
        f"Unit economics {report.period.label} by {report.by} ({report.currency})",
        "",
        line(cols),
        rule,
        *map(line, body),
        rule,
        line(footer),
        "",
        "Revenue: each customer's invoice total for the month (final if finalized, else the draft)"
        + (";\n  split between its agents by their share of its cost." if by_agent else "."),
        "Cost per successful task: the cost of every event with a task_id (attempts, retries,",
        "  failed tasks, human review) / tasks with a successful outcome.",
        f"Cost per conversation: {conv.conversations:,} conversation(s) started in "
        f"{conv.hours:,} UTC hour(s);",
        f"  direct cost {_cost(conv.direct_cost)} + infra {_cost(report.infra_cost_per_hour)}/h × "
        f"{conv.hours:,} h = {_cost(conv.infra_cost)} -> {_cost(per_conversation)} per conversation.",
    ]
    if human is None:
        lines.append("Break-even volume: give a human cost per successful task (--human-cost).")
    else:
        label = break_even_label(report.total, human) or ""
        verdict = {"never": "never (a human costs no more per task)", "n/a": "n/a (no successful task)"}
        lines += [
            f"Break-even at a human cost of {_cost(human)} per successful task: fixed cost "
            f"{_cost(report.fixed_cost)}",
            f"  (infra {_cost(report.infra_cost_per_hour)}/h × {report.hours:,} h) / ({_cost(human)} - "
            f"{_cost(report.total.cost_per_successful_task)} per successful task)",
            f"  -> {verdict.get(label, f'{label} successful tasks in {report.period.label}')}.",
        ]
    return "\n".join(lines)


def render_economics(report: EconomicsReport, fmt: Format) -> str:
    match fmt:
        case "table":
            return _table(report)
        case "json":
            return json.dumps(economics_document(report), indent=2)
        case "csv":
            return _csv(report)
    raise BillingError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _amount(option: str, text: str | Decimal) -> Decimal:
    if isinstance(text, Decimal):
        return _check_amount(option, text)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BillingError(f"{option} must be an amount like 12.50, not {text!r}") from None
    return _check_amount(option, value)


def _by(text: str) -> By:
    for by in BY:
        if text == by:
            return by
    raise BillingError(f"economics are by {' or '.join(BY)}, not {text!r}")


def _format(text: str) -> Format:
    for fmt in FORMATS:
        if text == fmt:
            return fmt
    raise BillingError(f"unknown format {text!r}; choose one of {', '.join(FORMATS)}")


def run_economics(
    settings: Settings,
    period: str,
    by: str,
    infra_cost_per_hour: str | Decimal,
    human_cost: str | Decimal | None,
    fmt: str,
) -> int:
    """``costline economics``: print the report for ``period``."""
    report = economics(
        open_client(settings),
        Period.parse(period),
        _by(by),
        _amount("--infra-cost-per-hour", infra_cost_per_hour),
        None if human_cost is None else _amount("--human-cost", human_cost),
    )
    print(render_economics(report, _format(fmt)))
    return 0
