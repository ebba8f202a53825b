"""Budgets as data: what a customer may spend, over which period, and what happens past it.

A budget belongs to one customer, because usage is partitioned by customer:
all the spend a budget watches is on one partition, where the worker folds it
exactly once by source position. Its scope narrows the customer's spend:

- ``customer``: all of it;
- ``agent``: each agent of the customer on its own (an allowance per agent);
- ``customer_agent``: one named agent (``agent_id``);
- ``user``: one named user (``user_id``), or each user when none is named;
- ``task``: one named task (``task_id``), or each task when none is named.

Periods are UTC: a ``day``, an ISO ``week`` (from Monday), a calendar
``month``, or the ``rolling_hours`` last ``hours`` hours (summed from hourly
buckets). Thresholds are percentages of ``amount``. A customer budget may
name the ``revenue`` its plan earns per period: the margin alert fires when
the period's cost leaves less than ``min_margin_pct`` of it. A ``soft`` budget only
alerts; a ``hard`` one is also refused by the budget gate (:mod:`schemas.gate`),
and an agent that cannot reach the gate fails ``open`` or ``closed`` as the
budget's ``on_unreachable`` says: by default closed for a hard budget, open
for a soft one (a file without the field loads as before).

Budget files are JSON, ``{"budgets": [...]}``, checked whole before anything
is published: one bad field is one error naming the file, the budget and
the field.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.events import Identifier, Money, Tokens
from schemas.validation import problems

MAX_ROLLING_HOURS = 24 * 92  # a quarter of hourly buckets is the most one state holds
Percent = Annotated[Decimal, Field(gt=0, le=1000, allow_inf_nan=False)]
BudgetAmount = Annotated[Decimal, Field(gt=0, le=Decimal(10**12), allow_inf_nan=False)]


class ScopeKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    CUSTOMER_AGENT = "customer_agent"
    USER = "user"
    TASK = "task"


class PeriodKind(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    ROLLING_HOURS = "rolling_hours"


class BudgetKind(StrEnum):
    SOFT = "soft"  # alerts only
    HARD = "hard"  # the gate refuses past 100 %


class OnUnreachable(StrEnum):
    """What an agent does for a hard budget when it cannot reach the gate: go ahead, or refrain."""

    OPEN = "open"
    CLOSED = "closed"


# Which event field each scope narrows by; None: the whole customer.
SCOPE_FIELD: dict[ScopeKind, str | None] = {
    ScopeKind.CUSTOMER: None,
    ScopeKind.AGENT: "agent_id",
    ScopeKind.CUSTOMER_AGENT: "agent_id",
    ScopeKind.USER: "user_id",
    ScopeKind.TASK: "task_id",
}
# How specific a scope is: a limit set on a more specific budget wins.
SPECIFICITY = {kind: rank for rank, kind in enumerate(ScopeKind)}


class Scoped(Protocol):
    """What a budget's scope narrows by: a usage event, or a gate check."""

    @property
    def customer_id(self) -> str: ...
    @property
    def agent_id(self) -> str | None: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def task_id(self) -> str | None: ...


class Limits(BaseModel):
    """Per-request and per-task limits; unset ones fall back to the worker's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_cost: Money | None = None
    request_tokens: Tokens | None = None
    task_cost: Money | None = None
    task_tokens: Tokens | None = None


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    budget_id: Identifier
    customer_id: Identifier
    scope: ScopeKind = ScopeKind.CUSTOMER
    agent_id: Identifier | None = None
    user_id: Identifier | None = None
    task_id: Identifier | None = None
    period: PeriodKind
    hours: Annotated[int, Field(ge=1, le=MAX_ROLLING_HOURS)] | None = None
    amount: BudgetAmount
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    thresholds: tuple[Percent, ...] = (Decimal(50), Decimal(80), Decimal(100))
    kind: BudgetKind = BudgetKind.SOFT
    # Unset: closed for a hard budget, open for a soft one (_fail_mode_by_kind).
    on_unreachable: OnUnreachable = OnUnreachable.OPEN
    # Alert when the projected period spend exceeds the amount by this much; None: the setting.
    burn_rate_excess: Annotated[Decimal, Field(ge=0, le=1000, allow_inf_nan=False)] | None = None
    limits: Limits = Limits()
    # Margin: the revenue the customer's plan earns in one period (its recurring fee, as the
    # Stripe price or Lago plan amount says), and the lowest margin on it before an alert;
    # None: the worker's setting (20 %). Customer-wide, calendar periods only.
    revenue: BudgetAmount | None = None
    min_margin_pct: Annotated[Decimal, Field(ge=0, lt=100, allow_inf_nan=False)] | None = None
    description: Annotated[str, Field(max_length=500)] = ""

    @model_validator(mode="before")
    @classmethod
    def _fail_mode_by_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("on_unreachable") is None:
            closed = str(data.get("kind", BudgetKind.SOFT)) == BudgetKind.HARD
            return {**data, "on_unreachable": OnUnreachable.CLOSED if closed else OnUnreachable.OPEN}
        return data

    @field_validator("thresholds")
    @classmethod
    def _rising(cls, value: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
        if not value:
            raise ValueError("at least one threshold, a percentage such as 100")
        if list(value) != sorted(set(value)):
            raise ValueError("thresholds must rise, each listed once (e.g. [50, 80, 100])")
        return value

    @model_validator(mode="after")
    def _scope_and_period(self) -> Budget:
        named = {f: getattr(self, f) for f in ("agent_id", "user_id", "task_id") if getattr(self, f)}
        own = SCOPE_FIELD[self.scope]
        stray = sorted(f for f in named if f != own)
        if stray:
            raise ValueError(f"a {self.scope} budget takes no {', '.join(stray)}")
        if self.scope is ScopeKind.CUSTOMER_AGENT and not self.agent_id:
            raise ValueError("a customer_agent budget names its agent_id")
        if self.scope is ScopeKind.AGENT and self.agent_id:
            raise ValueError("an agent budget applies to each agent; name one with scope customer_agent")
        if (self.period is PeriodKind.ROLLING_HOURS) != (self.hours is not None):
            raise ValueError("hours goes with period rolling_hours, and only with it")
        if self.revenue is not None and (
            self.scope is not ScopeKind.CUSTOMER or self.period is PeriodKind.ROLLING_HOURS
        ):
            raise ValueError(
                "revenue (for the margin alert) goes on a customer budget of a day, week or month"
            )
        if self.min_margin_pct is not None and self.revenue is None:
            raise ValueError("min_margin_pct needs the revenue it is a margin on")
        return self

    def subject(self, event: Scoped) -> str | None:
        """Whose spend ``event`` (or a check) adds to under this budget ("" for the whole scope), or None."""
        if event.customer_id != self.customer_id:
            return None
        field = SCOPE_FIELD[self.scope]
        if field is None:
            return ""
        value: str | None = getattr(event, field)
        named: str | None = getattr(self, field)
        if value is None or (named is not None and value != named):
            return None
        return value

    def period_bounds(self, at: datetime) -> tuple[datetime, datetime]:
        """The period holding ``at`` (UTC); for a rolling budget, the hours up to the end of ``at``'s."""
        at = at.astimezone(UTC)
        day = at.replace(hour=0, minute=0, second=0, microsecond=0)
        match self.period:
            case PeriodKind.DAY:
                return day, day + timedelta(days=1)
            case PeriodKind.WEEK:
                start = day - timedelta(days=day.weekday())
                return start, start + timedelta(days=7)
            case PeriodKind.MONTH:
                start = day.replace(day=1)
                days = calendar.monthrange(start.year, start.month)[1]
                return start, start + timedelta(days=days)
            case PeriodKind.ROLLING_HOURS:
                assert self.hours is not None
                end = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
                return end - timedelta(hours=self.hours), end

    @property
    def scope_label(self) -> str:
        """``acme``, ``acme/agent=*``, ``acme/user=u-1``: the scope as a line shows it."""
        field = SCOPE_FIELD[self.scope]
        if field is None:
            return self.customer_id
        return f"{self.customer_id}/{field.removesuffix('_id')}={getattr(self, field) or '*'}"

    @property
    def period_label(self) -> str:
        return f"rolling {self.hours} h" if self.period is PeriodKind.ROLLING_HOURS else str(self.period)


class BudgetFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budgets: list[Budget]


class BudgetFileError(ValueError):
    """A budget file cannot be read or holds a bad budget; names the file, the budget and the field."""


def read_budget_file(path: Path) -> list[Budget]:
    try:
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise BudgetFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise BudgetFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("budgets"), list):
        raise BudgetFileError(f'{path}: a budget file is {{"budgets": [...]}}')
    budgets: list[Budget] = []
    for index, item in enumerate(document["budgets"]):
        name = item.get("budget_id") if isinstance(item, dict) else None
        where = f"budgets[{index}]" + (f" ({name})" if isinstance(name, str) else "")
        try:
            budgets.append(Budget.model_validate(item))
        except ValidationError as exc:
            raise BudgetFileError(f"{path}: {where}: {problems(exc, 'budget')}") from None
    extra = sorted(set(document) - {"budgets"})
    if extra:
        raise BudgetFileError(f"{path}: unknown top-level field(s) {', '.join(extra)}")
    return budgets


def load_budget_files(paths: Iterable[Path]) -> list[Budget]:
    """Every budget of every file; a budget id given twice is an error, not a silent override."""
    seen: dict[str, Path] = {}
    budgets: list[Budget] = []
    for path in paths:
        for budget in read_budget_file(path):
            if budget.budget_id in seen:
                raise BudgetFileError(
                    f"{path}: budget {budget.budget_id!r} is also in {seen[budget.budget_id]}; "
                    "a budget id names one budget"
                )
            seen[budget.budget_id] = path
            budgets.append(budget)
    return budgets
