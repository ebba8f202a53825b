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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any, Generic, TypeVar

from schemas.dead_letters import DeadLetterCode
from schemas.events import (
    Compute,
    Correction,
    Embedding,
    HumanReview,
    LlmCall,
    Outcome,
    Storage,
    ToolCall,
    UsageEvent,
    VectorQuery,
)
from schemas.money import SCALE, ZERO, from_pico
from schemas.prices import (
    MEDIA_RATES,
    ComputePrice,
    EmbeddingPrice,
    HumanReviewPrice,
    LlmPrice,
    Price,
    PriceVersion,
    ServiceTierRates,
    StoragePrice,
    TieredRate,
    ToolPrice,
    VectorQueryPrice,
    synced_sku,
)
from streams.model_names import source_candidates
from streams.pico_rates import TextRates, text_rates, token_rate_pico, unit_rate_pico

MILLION = Decimal(1_000_000)
SECONDS_PER_HOUR = Decimal(3600)
# Cloud storage bills a month as 730 hours and a GB as 10^9 bytes.
SECONDS_PER_MONTH = Decimal(730 * 3600)
BYTES_PER_GB = Decimal(10**9)
_WIDE = Context(prec=50)
T = TypeVar("T")
# After any occurred_at the contract admits: when the newest version of a SKU stops being in force.
_NEVER = datetime.max.replace(tzinfo=UTC)
# An integer cost is the Decimal cost only while the Decimal product is exact: ToolCall's and
# VectorQuery's multiply in the default context, of 28 digits.
_EXACT_PICO = 10**28
# Below _EXACT_PICO, ``Decimal(pico) * PICO`` is exact in any context of 28 digits or more (Python's
# default; the worker sets 38) and costs half of from_pico, which shifts in a 50-digit context.
PICO = Decimal("1E-12")


def cost_of_pico(pico: int) -> Decimal:
    """An integer cost as the Decimal ``cost`` pricing gives it, in pricing's own form: every path
    that holds the integer (columns, spend control) makes the same Decimal from it."""
    return Decimal(pico) * PICO if pico < _EXACT_PICO else from_pico(pico)


def costs_of_pico(picos: list[int]) -> list[Decimal]:
    """:func:`cost_of_pico` of each: the multiplication of each by :data:`PICO` in C where all are
    below ``_EXACT_PICO`` (no call a value)."""
    if picos and max(picos) >= _EXACT_PICO:
        return list(map(cost_of_pico, picos))
    return list(map(PICO.__rmul__, picos))


class UnpriceableEventError(Exception):
    """No price covers this event; it goes to the dead-letter topic."""

    code = DeadLetterCode.UNPRICEABLE

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# TokenUsage and PricedEvent are built for every event and never changed after:
# not frozen, since a frozen dataclass's __init__ (object.__setattr__ a field)
# costs three times a plain one, ~2 µs an event for the two.
@dataclass(slots=True)
class TokenUsage:
    input: int = 0
    cached_input: int = 0
    cache_write: int = 0
    output: int = 0
    reasoning: int = 0
    # Parts of the totals above, as an LlmCall counts them.
    input_audio: int = 0
    cached_audio_input: int = 0
    output_audio: int = 0
    input_image: int = 0
    cached_image_input: int = 0
    output_image: int = 0


@dataclass(slots=True)
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
    model_sent: str = ""  # an LLM call's model as sent, when ``sku`` is what it resolved to
    events: int = 1  # what it adds to a window's event count: a correction adds none
    # ``cost`` in pico-dollars where pricing computed it as an integer (the
    # windows add these); None where it priced in Decimal.
    cost_pico: int | None = None

    @property
    def category(self) -> str:
        """The kind it is counted under: a correction's is the corrected event's."""
        event = self.event
        # type(), not isinstance: this runs for every window of every event, and the kinds are final.
        return event.corrected_kind if type(event) is Correction else event.kind


def meter_sku(event: UsageEvent) -> str:
    """The SKU an event is priced by: a model, a tool, a provider or a SKU."""
    # A dict of the final kinds, not a match: a miss of a class pattern costs an isinstance.
    return event.__dict__[_SKU_FIELDS[type(event)]]  # type: ignore[no-any-return]


_SKU_FIELDS: dict[type[Any], str] = {
    LlmCall: "model",
    Embedding: "model",
    ToolCall: "tool",
    VectorQuery: "provider",
    Compute: "sku",
    Storage: "sku",
    HumanReview: "sku",
    Outcome: "outcome_type",
    Correction: "sku",
}


class PriceCatalog:
    """All known price versions, indexed per (meter, sku) by effective time.

    An LLM call's (provider, model) is resolved to a SKU once per distinct
    pair and cached (:meth:`llm_sku`), so pricing stays two dictionary
    lookups and a bisect over one SKU's history however large the catalog.

    Negotiated versions (``layer: "negotiated"``) are indexed apart: at an
    event's time a negotiated fixed price for its SKU wins over any list
    price, and otherwise the list price in force is reduced by the
    negotiated discount in force for its provider. Either is the newest
    negotiated version started by then and not yet ended. With no
    negotiated version loaded, pricing costs what it did.
    """

    def __init__(self, versions: Iterable[PriceVersion] = ()) -> None:
        self._versions: dict[str, PriceVersion] = {}
        self._order: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
        self._times: dict[tuple[str, str], list[datetime]] = {}
        self._entries: dict[tuple[str, str], list[tuple[str, Price]]] = {}
        self._aliases: dict[str, str] = {}
        self._llm_skus: dict[tuple[str, str], str] = {}
        self._fixed: dict[tuple[str, str], list[_Negotiated[Price]]] = {}
        self._discounts: dict[str, list[_Negotiated[Decimal]]] = {}
        # Per (version, sku): the price's integer text rates, None where it has none.
        self._pico_rates: dict[tuple[str, str], TextRates | None] = {}
        # Per (meter, sku): the list price in force at the last time asked and until when.
        self._listed: dict[tuple[str, str], _Listed] = {}
        # Per (provider, model) as sent: its SKU and that SKU's entry of _listed.
        self._llm_prices: dict[tuple[str, str], tuple[str, _Listed]] = {}
        # Counts the versions added: whoever indexes the catalog (streams.column_pricing) sees a change.
        self.revision = 0
        for version in versions:
            self.add(version)

    def add(self, version: PriceVersion) -> None:
        """Add or replace a version (same id: the newer publication wins)."""
        self.revision += 1
        replacing = version.version in self._versions
        self._versions[version.version] = version
        if replacing:
            self._reindex()
        else:
            self._insert(version)
        if version.aliases or replacing:
            self._aliases = {name: sku for v in self.versions for name, sku in v.aliases.items()}
        self._llm_skus = {}  # a new SKU or alias may resolve a name differently
        self._pico_rates = {}  # a version published again may change its rates
        self._listed = {}  # and a new version ends another's time in force
        self._llm_prices = {}

    def _insert(self, version: PriceVersion) -> None:
        if version.layer == "negotiated":
            self._insert_negotiated(version)
            return
        # One version at a time, in place: the price feed adds thousands.
        at = (version.effective_from, version.version)
        for price in version.prices:
            key = (price.meter, price.sku)
            order = self._order.setdefault(key, [])
            index = bisect.bisect_right(order, at)
            order.insert(index, at)
            self._times.setdefault(key, []).insert(index, version.effective_from)
            self._entries.setdefault(key, []).insert(index, (version.version, price))

    def _insert_negotiated(self, version: PriceVersion) -> None:
        def entry(value: T) -> _Negotiated[T]:
            return _Negotiated(version.effective_from, version.version, version.effective_until, value)

        for price in version.prices:
            _insort(self._fixed.setdefault((price.meter, price.sku), []), entry(price))
        for provider, discount in version.discounts.items():
            _insort(self._discounts.setdefault(provider, []), entry(discount))

    def _reindex(self) -> None:
        self._order, self._times, self._entries = {}, {}, {}
        self._fixed, self._discounts = {}, {}
        for version in self.versions:
            self._insert(version)

    @property
    def versions(self) -> list[PriceVersion]:
        return sorted(self._versions.values(), key=lambda v: (v.effective_from, v.version))

    def __len__(self) -> int:
        return len(self._versions)

    def llm_sku(self, provider: str, model: str) -> str:
        """The SKU an LLM call is priced by, resolved once per (provider, model)."""
        key = (provider, model)
        sku = self._llm_skus.get(key)
        if sku is None:
            sku = self._llm_skus[key] = self._resolve(provider, model)
        return sku

    def _resolve(self, provider: str, model: str) -> str:
        """An alias first, then the SKU as sent, then genai-prices' matching rules."""
        qualified = synced_sku(provider, model)
        for name in (qualified, model):
            if name in self._aliases:
                return self._aliases[name]
        for sku in (qualified, model, *source_candidates(provider, model)):
            if ("llm", sku) in self._times or ("llm", sku) in self._fixed:
                return sku
        return model

    def price_at(self, meter: str, sku: str, at: datetime) -> tuple[str, Price]:
        """The price in force: a negotiated fixed price first, else the list price."""
        key = (meter, sku)
        if self._fixed:
            fixed = _in_force(self._fixed.get(key), at)
            if fixed is not None:
                return fixed.version, fixed.value
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
        if self._fixed or self._discounts:  # negotiated rates: looked up in full for each event
            priced = self._list_or_fixed(event)
            if self._discounts and not isinstance(event, Outcome | Correction):
                return self._discounted(priced)
            return priced
        # type() says which; no cast(): a call per event, and a union built for each of these.
        kind = type(event)
        if kind is LlmCall:
            return self._llm_listed(event)  # type: ignore[arg-type]
        if kind is ToolCall or kind is VectorQuery or kind is Embedding:
            return self._per_unit_listed(event)  # type: ignore[arg-type]
        return self._list_or_fixed(event)

    def _listed_at(self, meter: str, sku: str, at: datetime) -> _Listed:
        """The list price in force at ``at``: the last one looked up while ``at`` is in its time."""
        listed = self._listed.get((meter, sku))
        if listed is not None and listed.start <= at < listed.end:
            return listed
        version, price = self.price_at(meter, sku, at)  # raises what cannot be priced
        times = self._times[(meter, sku)]
        index = bisect.bisect_right(times, at)
        end = times[index] if index < len(times) else _NEVER
        listed = _Listed(times[index - 1], end, version, price, _integer_rate(price))
        self._listed[(meter, sku)] = listed
        return listed

    def _llm_listed(self, event: LlmCall) -> PricedEvent:
        """A call by its list price: in integers when its text rates are whole pico-dollars."""
        values = event.__dict__  # a subscript costs less than a pydantic model's attribute
        names, at = (values["provider"], values["model"]), values["occurred_at"]
        remembered = self._llm_prices.get(names)
        if remembered is not None and remembered[1].start <= at < remembered[1].end:
            sku, listed = remembered
        else:
            sku = self.llm_sku(*names)
            listed = self._listed_at("llm", sku, at)
            self._llm_prices[names] = sku, listed
        rates = listed.rate
        if (
            type(rates) is TextRates
            and values["service_tier"] is None
            and not values["batch"]
            and not (
                values["input_audio_tokens"]
                or values["output_audio_tokens"]
                or values["input_image_tokens"]
                or values["output_image_tokens"]
            )
        ):
            return _price_llm_pico(event, rates, listed.version, sku)
        return self._list_or_fixed(event)

    def _per_unit_listed(self, event: ToolCall | VectorQuery | Embedding) -> PricedEvent:
        """Calls, queries or embedded tokens times a whole pico-dollar rate; else as :func:`_apply`."""
        provider = ""
        if type(event) is ToolCall:
            sku, count, unit = event.tool, event.calls, "calls"
        elif type(event) is VectorQuery:
            sku = provider = event.provider
            count, unit = event.queries, "queries"
        else:
            sku, count, unit = event.model, event.tokens, "tokens"  # type: ignore[union-attr]  # an Embedding
        listed = self._listed_at(event.kind, sku, event.occurred_at)
        rate = listed.rate
        if type(rate) is not int or count * rate >= _EXACT_PICO:
            return _apply(event, listed.price, listed.version)
        pico = count * rate
        tokens = TokenUsage(count) if type(event) is Embedding else TokenUsage()
        return PricedEvent(
            event, Decimal(pico) * PICO, listed.version, sku, provider, Decimal(count), unit, tokens,
            cost_pico=pico,
        )  # fmt: skip

    def _discounted(self, priced: PricedEvent) -> PricedEvent:
        """A list-priced event less its provider's negotiated discount in force."""
        sku = priced.sku
        provider = sku.partition("/")[0] if "/" in sku else priced.provider
        found = _in_force(self._discounts.get(provider), priced.event.occurred_at)
        if found is None or not found.value or self._is_fixed(priced):
            return priced
        cost = _keep(_WIDE.multiply(priced.cost, 1 - found.value))
        version = f"{priced.price_version}+{found.version}"
        # The list price's integer cost, if any, is not this cost: the windows convert this one.
        return replace(priced, cost=cost, price_version=version, cost_pico=None)

    def _is_fixed(self, priced: PricedEvent) -> bool:
        fixed = self._fixed.get((priced.event.kind, priced.sku))
        return fixed is not None and any(entry.version == priced.price_version for entry in fixed)

    def _list_or_fixed(self, event: UsageEvent) -> PricedEvent:
        # type() rather than isinstance(): the kinds are final classes, and a miss of
        # isinstance on a pydantic model is a few times slower; model calls come first.
        if type(event) is LlmCall:
            sku = self.llm_sku(event.provider, event.model)
            version, price = self.price_at("llm", sku, event.occurred_at)
            if isinstance(price, LlmPrice):
                rates = self._text_rates(version, price)
                if rates is not None and _text_only(event, price):
                    return _price_llm_pico(event, rates, version, sku)
                return _price_llm(event, price, version, sku)
            return _apply(event, price, version)
        if type(event) is Correction:
            return PricedEvent(
                event,
                event.cost_delta,
                event.price_version,
                event.sku,
                event.provider,
                ZERO,
                "",
                TokenUsage(),
                model_sent=event.model_sent,
                events=0,
            )
        if type(event) is Outcome:
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

    def _text_rates(self, version: str, price: LlmPrice) -> TextRates | None:
        key = (version, price.sku)
        if key not in self._pico_rates:
            self._pico_rates[key] = text_rates(price)
        return self._pico_rates[key]


@dataclass(frozen=True, slots=True)
class _Negotiated(Generic[T]):
    """A negotiated rate (a fixed price or a discount) and when it is in force."""

    effective_from: datetime
    version: str
    until: datetime | None
    value: T

    @property
    def order(self) -> tuple[datetime, str]:
        return self.effective_from, self.version


@dataclass(frozen=True, slots=True)
class _Listed:
    """A (meter, SKU)'s list price in force from ``start`` until ``end``, and its integer rate."""

    start: datetime
    end: datetime
    version: str
    price: Price
    # Pico-dollars per call, query or token; an LLM price's text rates (without a per-request
    # fee); None where the price has no such exact integers and is priced in Decimal.
    rate: int | TextRates | None


def _integer_rate(price: Price) -> int | TextRates | None:
    match price:
        case LlmPrice():
            return text_rates(price) if price.per_request is None else None
        case ToolPrice():
            return unit_rate_pico(price.per_call)
        case VectorQueryPrice():
            return unit_rate_pico(price.per_query)
        case EmbeddingPrice():
            return token_rate_pico(price.per_mtok)
    return None


def _insort(entries: list[_Negotiated[T]], entry: _Negotiated[T]) -> None:
    bisect.insort_right(entries, entry, key=lambda e: e.order)


def _in_force(entries: list[_Negotiated[T]] | None, at: datetime) -> _Negotiated[T] | None:
    """The newest entry started by ``at`` and not ended; entries are few per SKU."""
    if not entries:
        return None
    for entry in reversed(entries):
        if entry.effective_from <= at and (entry.until is None or at < entry.until):
            return entry
    return None


def _per_mtok(tokens: int, rate: Decimal) -> Decimal:
    return _WIDE.divide(_WIDE.multiply(Decimal(tokens), rate), MILLION)


def _keep(cost: Decimal) -> Decimal:
    return cost.quantize(SCALE, rounding=ROUND_HALF_EVEN, context=_WIDE)


def _apply(event: UsageEvent, price: Price, version: str) -> PricedEvent:
    """An event of a unit-priced kind at ``price``, in Decimal."""
    # Looked up by the event's (final) class: a match's class patterns cost an isinstance per
    # miss, and compute, storage and reviews came after four of them.
    kind = _UNIT_PRICED.get(type(event))
    if kind is None or not isinstance(price, kind[0]):
        raise UnpriceableEventError(f"price for {price.meter} cannot price a {event.kind} event")
    return kind[1](event, price, version)


def _tool(event: ToolCall, price: ToolPrice, version: str) -> PricedEvent:
    qty = Decimal(event.calls)
    return _simple(event, event.tool, version, "", qty, "calls", qty * price.per_call)


def _embedding(event: Embedding, price: EmbeddingPrice, version: str) -> PricedEvent:
    cost = _per_mtok(event.tokens, price.per_mtok)
    tokens = TokenUsage(input=event.tokens)
    return PricedEvent(event, _keep(cost), version, event.model, "", Decimal(event.tokens), "tokens", tokens)


def _vector_query(event: VectorQuery, price: VectorQueryPrice, version: str) -> PricedEvent:
    qty = Decimal(event.queries)
    provider = event.provider
    return _simple(event, provider, version, provider, qty, "queries", qty * price.per_query)


def _compute(event: Compute, price: ComputePrice, version: str) -> PricedEvent:
    cost = _WIDE.divide(_WIDE.multiply(event.seconds, price.per_hour), SECONDS_PER_HOUR)
    return _simple(event, event.sku, version, "", event.seconds, "seconds", cost)


def _storage(event: Storage, price: StoragePrice, version: str) -> PricedEvent:
    gb_seconds = _WIDE.multiply(_WIDE.divide(Decimal(event.bytes), BYTES_PER_GB), event.seconds)
    gb_months = _WIDE.divide(gb_seconds, SECONDS_PER_MONTH)
    cost = _WIDE.multiply(gb_months, price.per_gb_month)
    return _simple(event, event.sku, version, "", _keep(gb_months), "gb_months", cost)


def _human_review(event: HumanReview, price: HumanReviewPrice, version: str) -> PricedEvent:
    cost = _WIDE.multiply(event.minutes, price.per_minute)
    return _simple(event, event.sku, version, "", event.minutes, "minutes", cost)


# Per kind priced by _apply, the price class it takes and how.
_UNIT_PRICED: dict[type[Any], tuple[type[Any], Callable[[Any, Any, str], PricedEvent]]] = {
    ToolCall: (ToolPrice, _tool),
    Embedding: (EmbeddingPrice, _embedding),
    VectorQuery: (VectorQueryPrice, _vector_query),
    Compute: (ComputePrice, _compute),
    Storage: (StoragePrice, _storage),
    HumanReview: (HumanReviewPrice, _human_review),
}


def _simple(
    event: UsageEvent, sku: str, version: str, provider: str, quantity: Decimal, unit: str, cost: Decimal
) -> PricedEvent:
    return PricedEvent(event, _keep(cost), version, sku, provider, quantity, unit, TokenUsage())


def _rate(rate: Decimal | TieredRate, prompt_tokens: int) -> Decimal:
    return rate if isinstance(rate, Decimal) else rate.at(prompt_tokens)


def _chosen(own: ServiceTierRates | None, price: LlmPrice, rate: str) -> Any:
    """A service tier's own rate where it has one, else the standard rate."""
    value = getattr(own, rate) if own is not None else None
    return value if value is not None else getattr(price, rate)


def _price_llm(event: LlmCall, price: LlmPrice, version: str, sku: str) -> PricedEvent:
    tier = event.tier
    own = price.service_tiers.get(tier) if tier is not None else None
    cost = _text_cost(event, price, own) + _media_cost(event, price, own, version, sku)
    if tier == "batch" and own is None and price.batch_discount:
        cost = _WIDE.multiply(cost, 1 - price.batch_discount)
    per_request = _chosen(own, price, "per_request")
    if per_request is not None:
        cost += per_request
    tokens = _llm_tokens(event)
    quantity = Decimal(event.input_tokens + event.output_tokens)
    return PricedEvent(
        event, _keep(cost), version, sku, event.provider, quantity, "tokens", tokens, model_sent=event.model
    )


def _llm_tokens(event: LlmCall) -> TokenUsage:
    return TokenUsage(
        input=event.input_tokens,
        cached_input=event.cached_input_tokens,
        cache_write=event.cache_write_tokens,
        output=event.output_tokens,
        reasoning=event.reasoning_tokens,
        input_audio=event.input_audio_tokens,
        cached_audio_input=event.cached_audio_input_tokens,
        output_audio=event.output_audio_tokens,
        input_image=event.input_image_tokens,
        cached_image_input=event.cached_image_input_tokens,
        output_image=event.output_image_tokens,
    )


def _text_only(event: LlmCall, price: LlmPrice) -> bool:
    """A standard-tier call of text tokens alone to a price without a per-request fee."""
    return (
        event.tier is None
        and price.per_request is None
        and not (
            event.input_audio_tokens
            or event.output_audio_tokens
            or event.input_image_tokens
            or event.output_image_tokens
        )
    )


def _price_llm_pico(event: LlmCall, rates: TextRates, version: str, sku: str) -> PricedEvent:
    """:func:`_price_llm` for a text-only call, in integers: the same cost, exactly.

    Without audio or image tokens the text parts are the totals less the
    cache and reasoning parts (``text_cost_pico``, without its properties).
    """
    values = event.__dict__  # one lookup per field, not an attribute's
    total_in, cached = values["input_tokens"], values["cached_input_tokens"]
    write = values["cache_write_tokens"]
    total_out, reasoning = values["output_tokens"], values["reasoning_tokens"]
    pico = (
        (total_in - cached - write) * rates.input
        + cached * rates.cached_input
        + write * rates.cache_write
        + (total_out - reasoning) * rates.output
        + reasoning * rates.reasoning
    )
    tokens = TokenUsage(total_in, cached, write, total_out, reasoning)
    cost = cost_of_pico(pico)
    return PricedEvent(
        event, cost, version, sku, values["provider"], Decimal(total_in + total_out),
        "tokens", tokens, values["model"], 1, pico,
    )  # fmt: skip


def _text_cost(event: LlmCall, price: LlmPrice, own: ServiceTierRates | None) -> Decimal:
    """The text tokens' cost: what is left of the totals once audio and image are taken out."""
    prompt = event.input_tokens
    input_rate = _rate(_chosen(own, price, "input_per_mtok"), prompt)
    output_rate = _rate(_chosen(own, price, "output_per_mtok"), prompt)
    cached = _chosen(own, price, "cached_input_per_mtok")
    write = _chosen(own, price, "cache_write_per_mtok")
    cached_rate = input_rate if cached is None else _rate(cached, prompt)
    write_rate = input_rate if write is None else _rate(write, prompt)
    if price.reasoning_per_mtok is None:
        output_cost = _per_mtok(event.text_output_tokens + event.reasoning_tokens, output_rate)
    else:
        output_cost = _per_mtok(event.text_output_tokens, output_rate) + _per_mtok(
            event.reasoning_tokens, price.reasoning_per_mtok
        )
    return (
        _per_mtok(event.text_input_tokens, input_rate)
        + _per_mtok(event.text_cached_input_tokens, cached_rate)
        + _per_mtok(event.cache_write_tokens, write_rate)
        + output_cost
    )


def _media_cost(
    event: LlmCall, price: LlmPrice, own: ServiceTierRates | None, version: str, sku: str
) -> Decimal:
    """Audio and image tokens at their own rates; a kind the price has no rate for is unpriceable.

    Uncached input media is the input count less its cached part, as
    genai-prices prices them; the text rates are never a fallback.
    """
    counts = {
        "input_audio_per_mtok": event.input_audio_tokens - event.cached_audio_input_tokens,
        "cached_audio_input_per_mtok": event.cached_audio_input_tokens,
        "output_audio_per_mtok": event.output_audio_tokens,
        "input_image_per_mtok": event.input_image_tokens - event.cached_image_input_tokens,
        "cached_image_input_per_mtok": event.cached_image_input_tokens,
        "output_image_per_mtok": event.output_image_tokens,
    }
    cost = ZERO
    for name, tokens in counts.items():
        if not tokens:
            continue
        rate = _chosen(own, price, name)
        if rate is None:
            raise UnpriceableEventError(
                f"{sku} has no {MEDIA_RATES[name]} price in version {version}; "
                f"the call carries {tokens} such tokens"
            )
        cost += _per_mtok(tokens, _rate(rate, event.input_tokens))
    return cost
