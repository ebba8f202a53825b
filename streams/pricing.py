"""Pricing: the price in force at an event's own time, and its exact cost.

Pure functions and a small index; no I/O. Costs are ``Decimal`` computed at
50 significant digits, then kept at 12 decimal places (1e-12 USD), the scale
of the ClickHouse ``Decimal(38, 12)`` columns. Every meter priced per token,
call, query or minute gives a terminating decimal, so it is exact; per-hour
compute and per-GB-month storage divide by 3,600 and 2,628,000 seconds and
are rounded half-even at the 12th place, once per event. Money is rounded
to cents only on invoice lines, never here.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal

from schemas.dead_letters import DeadLetterCode
from schemas.events import (
    Compute,
    Embedding,
    HumanReview,
    LlmCall,
    Outcome,
    Storage,
    ToolCall,
    UsageEvent,
    VectorQuery,
)
from schemas.money import SCALE, ZERO
from schemas.prices import (
    ComputePrice,
    EmbeddingPrice,
    HumanReviewPrice,
    LlmPrice,
    Price,
    PriceVersion,
    StoragePrice,
    ToolPrice,
    VectorQueryPrice,
)

MILLION = Decimal(1_000_000)
SECONDS_PER_HOUR = Decimal(3600)
# Cloud storage bills a month as 730 hours and a GB as 10^9 bytes.
SECONDS_PER_MONTH = Decimal(730 * 3600)
BYTES_PER_GB = Decimal(10**9)
_WIDE = Context(prec=50)


class UnpriceableEventError(Exception):
    """No price covers this event; it goes to the dead-letter topic."""

    code = DeadLetterCode.UNPRICEABLE

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenUsage:
    input: int = 0
    cached_input: int = 0
    cache_write: int = 0
    output: int = 0
    reasoning: int = 0


@dataclass(frozen=True, slots=True)
class PricedEvent:
    """An event with its cost and the facts the ledger keeps about it."""

    event: UsageEvent
    cost: Decimal
    price_version: str
    sku: str
    provider: str
    quantity: Decimal
    unit: str
    tokens: TokenUsage

    @property
    def category(self) -> str:
        return self.event.kind


def meter_sku(event: UsageEvent) -> str:
    """The SKU an event is priced by: a model, a tool, a provider or a SKU."""
    match event:
        case LlmCall() | Embedding():
            return event.model
        case ToolCall():
            return event.tool
        case VectorQuery():
            return event.provider
        case Compute() | Storage() | HumanReview():
            return event.sku
        case Outcome():
            return event.outcome_type


class PriceCatalog:
    """All known price versions, indexed per (meter, sku) by effective time."""

    def __init__(self, versions: Iterable[PriceVersion] = ()) -> None:
        self._versions: dict[str, PriceVersion] = {}
        self._times: dict[tuple[str, str], list[datetime]] = {}
        self._entries: dict[tuple[str, str], list[tuple[str, Price]]] = {}
        for version in versions:
            self.add(version)

    def add(self, version: PriceVersion) -> None:
        """Add or replace a version (same id: the newer publication wins)."""
        self._versions[version.version] = version
        self._reindex()

    def _reindex(self) -> None:
        times: dict[tuple[str, str], list[datetime]] = {}
        entries: dict[tuple[str, str], list[tuple[str, Price]]] = {}
        ordered = sorted(self._versions.values(), key=lambda v: (v.effective_from, v.version))
        for version in ordered:
            for price in version.prices:
                key = (price.meter, price.sku)
                times.setdefault(key, []).append(version.effective_from)
                entries.setdefault(key, []).append((version.version, price))
        self._times, self._entries = times, entries

    @property
    def versions(self) -> list[PriceVersion]:
        return sorted(self._versions.values(), key=lambda v: (v.effective_from, v.version))

    def __len__(self) -> int:
        return len(self._versions)

    def price_at(self, meter: str, sku: str, at: datetime) -> tuple[str, Price]:
        key = (meter, sku)
        times = self._times.get(key)
        if not times:
            raise UnpriceableEventError(f"no {meter} price for sku {sku!r} in any price version")
        index = bisect.bisect_right(times, at) - 1
        if index < 0:
            raise UnpriceableEventError(
                f"no {meter} price for sku {sku!r} in force at {at.isoformat()}; "
                f"the first one starts {times[0].isoformat()}"
            )
        return self._entries[key][index]

    def totals(self, events: Iterable[UsageEvent]) -> dict[str, Decimal]:
        """Each customer's cost for these events, priced here and now."""
        totals: dict[str, Decimal] = {}
        for event in events:
            totals[event.customer_id] = totals.get(event.customer_id, ZERO) + self.price(event).cost
        return totals

    def price(self, event: UsageEvent) -> PricedEvent:
        """Price one event by the version in force at its ``occurred_at``."""
        if isinstance(event, Outcome):
            return PricedEvent(
                event,
                ZERO,
                "",
                event.outcome_type,
                "",
                Decimal(event.quantity),
                "outcomes",
                TokenUsage(),
            )
        version, price = self.price_at(event.kind, meter_sku(event), event.occurred_at)
        return _apply(event, price, version)


def _per_mtok(tokens: int, rate: Decimal) -> Decimal:
    return _WIDE.divide(_WIDE.multiply(Decimal(tokens), rate), MILLION)


def _keep(cost: Decimal) -> Decimal:
    return cost.quantize(SCALE, rounding=ROUND_HALF_EVEN, context=_WIDE)


def _apply(event: UsageEvent, price: Price, version: str) -> PricedEvent:
    match event, price:
        case LlmCall(), LlmPrice():
            return _price_llm(event, price, version)
        case ToolCall(), ToolPrice():
            qty = Decimal(event.calls)
            return _simple(event, version, "", qty, "calls", qty * price.per_call)
        case Embedding(), EmbeddingPrice():
            cost = _per_mtok(event.tokens, price.per_mtok)
            tokens = TokenUsage(input=event.tokens)
            return PricedEvent(
                event,
                _keep(cost),
                version,
                event.model,
                "",
                Decimal(event.tokens),
                "tokens",
                tokens,
            )
        case VectorQuery(), VectorQueryPrice():
            qty = Decimal(event.queries)
            return _simple(event, version, event.provider, qty, "queries", qty * price.per_query)
        case Compute(), ComputePrice():
            cost = _WIDE.divide(_WIDE.multiply(event.seconds, price.per_hour), SECONDS_PER_HOUR)
            return _simple(event, version, "", event.seconds, "seconds", cost)
        case Storage(), StoragePrice():
            gb_seconds = _WIDE.multiply(_WIDE.divide(Decimal(event.bytes), BYTES_PER_GB), event.seconds)
            gb_months = _WIDE.divide(gb_seconds, SECONDS_PER_MONTH)
            cost = _WIDE.multiply(gb_months, price.per_gb_month)
            return _simple(event, version, "", _keep(gb_months), "gb_months", cost)
        case HumanReview(), HumanReviewPrice():
            cost = _WIDE.multiply(event.minutes, price.per_minute)
            return _simple(event, version, "", event.minutes, "minutes", cost)
    raise UnpriceableEventError(f"price for {price.meter} cannot price a {event.kind} event")


def _simple(
    event: UsageEvent, version: str, provider: str, quantity: Decimal, unit: str, cost: Decimal
) -> PricedEvent:
    return PricedEvent(event, _keep(cost), version, meter_sku(event), provider, quantity, unit, TokenUsage())


def _price_llm(event: LlmCall, price: LlmPrice, version: str) -> PricedEvent:
    cached_rate = (
        price.cached_input_per_mtok if price.cached_input_per_mtok is not None else price.input_per_mtok
    )
    write_rate = (
        price.cache_write_per_mtok if price.cache_write_per_mtok is not None else price.input_per_mtok
    )
    plain_input = event.input_tokens - event.cached_input_tokens - event.cache_write_tokens
    if price.reasoning_per_mtok is None:
        output_cost = _per_mtok(event.output_tokens, price.output_per_mtok)
    else:
        plain_output = event.output_tokens - event.reasoning_tokens
        output_cost = _per_mtok(plain_output, price.output_per_mtok) + _per_mtok(
            event.reasoning_tokens, price.reasoning_per_mtok
        )
    cost = (
        _per_mtok(plain_input, price.input_per_mtok)
        + _per_mtok(event.cached_input_tokens, cached_rate)
        + _per_mtok(event.cache_write_tokens, write_rate)
        + output_cost
    )
    if event.batch and price.batch_discount:
        cost = _WIDE.multiply(cost, 1 - price.batch_discount)
    tokens = TokenUsage(
        input=event.input_tokens,
        cached_input=event.cached_input_tokens,
        cache_write=event.cache_write_tokens,
        output=event.output_tokens,
        reasoning=event.reasoning_tokens,
    )
    quantity = Decimal(event.input_tokens + event.output_tokens)
    return PricedEvent(event, _keep(cost), version, event.model, event.provider, quantity, "tokens", tokens)
