"""A batch's events priced a column at a time: integer pico-dollar rates per (SKU, version in force).

Per kind, events are grouped by SKU; per SKU, the version in force at each
event's time is one ``searchsorted`` over the SKU's history (the catalog's
own order: effective time, then version id, as :meth:`PriceCatalog.price_at`
bisects it). A group's cost is then integer arithmetic on whole arrays with
the rates :mod:`streams.pico_rates` derives, equal to the Decimal cost
:mod:`streams.pricing` computes: per-token, per-call and per-query rates
are exact products; per-hour compute and per-minute review round half-even
at the 12th place, as ``_keep`` does; storage, whose GB-months pass through a
50-digit division, is priced in Decimal as pricing does it, one event at a
time (2% of the workload). An event no integer rate prices exactly (a
negotiated price, a tier, a rate finer than a pico-dollar) is declined:
its message takes the worker's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from schemas.events import MAX_SECONDS
from schemas.money import SCALE
from schemas.prices import (
    ComputePrice,
    EmbeddingPrice,
    HumanReviewPrice,
    LlmPrice,
    Price,
    StoragePrice,
    ToolPrice,
    VectorQueryPrice,
)
from streams.pico_rates import TextRates, text_rates, token_rate_pico, unit_rate_pico
from streams.pricing import BYTES_PER_GB, SECONDS_PER_MONTH, PriceCatalog
from streams.wire_columns import KindRows, WireColumns

Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
Money = npt.NDArray[Any]  # int64, or object (Python ints) where a value may pass int64

PICO = 10**12
_INT64_MAX = 2**63 - 1
_WIDE = Context(prec=50)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_SECONDS_UNITS = int(MAX_SECONDS) * PICO
_MAX_AMOUNT_UNITS = min(_MAX_SECONDS_UNITS, _INT64_MAX)  # an amount's units as int64, within the contract
# The ledger's price columns, a combination a row: what LOW_CARDINALITY_GROUP writes.
Combo = tuple[str, str, str, str, str, str]  # kind, provider, sku, model_sent, unit, price_version


@dataclass(frozen=True, slots=True)
class _History:
    """One (meter, SKU)'s list prices in the catalog's order, each start in microseconds."""

    starts: Ints
    versions: list[str]
    prices: list[Price]


class RateBook:
    """The catalog's list prices indexed for columns. Negotiated versions are left to the worker."""

    def __init__(self, catalog: PriceCatalog) -> None:
        self.catalog = catalog
        self.negotiated = any(v.layer == "negotiated" for v in catalog.versions)
        entries: dict[tuple[str, str], list[tuple[int, str, Price]]] = {}
        for version in catalog.versions:  # sorted by (effective_from, version), as the catalog's index
            start = _micros(version.effective_from)
            for price in version.prices:
                entries.setdefault((price.meter, price.sku), []).append((start, version.version, price))
        self._history = {
            key: _History(
                np.array([e[0] for e in rows], np.int64), [e[1] for e in rows], [e[2] for e in rows]
            )
            for key, rows in entries.items()
        }

    def in_force(self, meter: str, sku: str, at_us: Ints) -> tuple[Ints, _History | None]:
        """Each time's index into the SKU's history (-1: none yet), and the history."""
        history = self._history.get((meter, sku))
        if history is None:
            return np.full(len(at_us), -1, np.int64), None
        return np.searchsorted(history.starts, at_us, side="right").astype(np.int64) - 1, history


@dataclass(slots=True)
class PricedColumns:
    """What pricing adds to each event of a :class:`WireColumns` (its rows, in its order)."""

    combo: Ints  # into ``combos``
    combos: list[Combo]
    cost: Money  # pico-dollars
    quantity: Money  # units of 1e-12
    tokens: Ints  # (events, 5): input, cached input, cache write, output, reasoning
    success: Mask
    declined: Mask  # no exact integer price: the event's message takes the worker's path


def price_columns(book: RateBook, wire: WireColumns) -> PricedColumns:
    n = len(wire)
    priced = PricedColumns(
        np.zeros(n, np.int64),
        [],
        np.zeros(n, np.int64),
        np.zeros(n, np.int64),
        np.zeros((n, 5), np.int64),
        np.ones(n, np.bool_),
        np.full(n, book.negotiated, np.bool_),
    )
    if book.negotiated:
        return priced
    numbering: dict[Combo, int] = {}
    for kind, rows in wire.kinds.items():
        _PRICERS[kind](book, wire, rows, priced, numbering)
    priced.combos = list(numbering)
    return priced


def _by_sku(skus: Sequence[str]) -> list[tuple[str, Ints]]:
    """Each distinct SKU and its positions in ``skus``."""
    numbers: dict[str, int] = {}
    codes = np.fromiter(map(numbers.setdefault, skus, range(len(skus))), np.int64, len(skus))
    return [(sku, np.flatnonzero(codes == code)) for sku, code in numbers.items()]


def _versions(
    book: RateBook, meter: str, sku: str, at_us: Ints, kind_type: type[Any]
) -> list[tuple[str, Price, Ints]] | None:
    """Per version in force over ``at_us``: its id, price and positions; None where one is missing."""
    index, history = book.in_force(meter, sku, at_us)
    if history is None or bool((index < 0).any()):
        return None
    found = []
    for i in np.unique(index).tolist():
        price = history.prices[i]
        if not isinstance(price, kind_type):
            return None
        found.append((history.versions[i], price, np.flatnonzero(index == i)))
    return found


def _combo(numbering: dict[Combo, int], combo: Combo) -> int:
    return numbering.setdefault(combo, len(numbering))


def _times(values: Ints, rate: int) -> Money:
    """``values * rate`` exactly: int64 while it surely fits, else Python ints."""
    largest = int(values.max(initial=0))
    if largest * abs(rate) <= _INT64_MAX:
        return values * rate
    return values.astype(object) * rate


def _half_even(numerator: Money, denominator: int) -> Money:
    """``numerator / denominator`` rounded half-even (numerators are not negative)."""
    quotient, rest = numerator // denominator, numerator % denominator  # divmod has no object loop
    twice = rest * 2
    rounded: Money = quotient + ((twice > denominator) | ((twice == denominator) & (quotient % 2 == 1)))
    return rounded


def _narrow(values: Money) -> Money:
    """Python ints as int64 where they fit: one group priced past int64 (storage's Decimal, the
    rounded products of compute and review) then leaves the batch's columns int64 when it can."""
    if values.dtype == object and len(values) and int(values.min()) >= 0 and int(values.max()) <= _INT64_MAX:
        return values.astype(np.int64)
    return values


def _put(priced: PricedColumns, rows: Ints, cost: Money, quantity: Money) -> None:
    cost, quantity = _narrow(cost), _narrow(quantity)
    if cost.dtype == object and priced.cost.dtype != object:
        priced.cost = priced.cost.astype(object)
    if quantity.dtype == object and priced.quantity.dtype != object:
        priced.quantity = priced.quantity.astype(object)
    priced.cost[rows] = cost
    priced.quantity[rows] = quantity


def _llm(
    book: RateBook, wire: WireColumns, kind: KindRows, priced: PricedColumns, n: dict[Combo, int]
) -> None:
    f = kind.fields
    total_in, total_out = kind.ints("input_tokens", 0), kind.ints("output_tokens", 0)
    cached, write = kind.ints("cached_input_tokens", 0), kind.ints("cache_write_tokens", 0)
    reasoning = kind.ints("reasoning_tokens", 0)
    at = wire.occurred_us[kind.rows]
    pairs: dict[tuple[str, str], int] = {}
    codes = np.fromiter(
        map(pairs.setdefault, zip(f["provider"], f["model"], strict=True), range(len(at))), np.int64, len(at)
    )
    for (provider, model), code in pairs.items():
        mine = np.flatnonzero(codes == code)
        sku = book.catalog.llm_sku(provider, model)
        found = _versions(book, "llm", sku, at[mine], LlmPrice)
        if found is None:
            priced.declined[kind.rows[mine]] = True
            continue
        for version, price, where in found:
            assert isinstance(price, LlmPrice)  # _versions checked the class
            rates = text_rates(price) if price.per_request is None else None
            chosen = mine[where]
            if rates is None:
                priced.declined[kind.rows[chosen]] = True
                continue
            _llm_cost(
                priced,
                kind.rows[chosen],
                rates,
                (total_in[chosen], cached[chosen], write[chosen], total_out[chosen], reasoning[chosen]),
            )
            priced.combo[kind.rows[chosen]] = _combo(n, ("llm", provider, sku, model, "tokens", version))


def _llm_cost(priced: PricedColumns, rows: Ints, rates: TextRates, tokens: tuple[Ints, ...]) -> None:
    total_in, cached, write, total_out, reasoning = tokens
    cost = (
        _times(total_in - cached - write, rates.input)
        + _times(cached, rates.cached_input)
        + _times(write, rates.cache_write)
        + _times(total_out - reasoning, rates.output)
        + _times(reasoning, rates.reasoning)
    )
    _put(priced, rows, cost, _times(total_in + total_out, PICO))
    priced.tokens[rows] = np.stack(tokens, axis=1)


def _per_unit(meter: str, sku_field: str, count_field: str, unit: str, price_type: type[Any]) -> Any:
    """Calls, queries or embedded tokens times a whole pico-dollar rate."""

    def price(
        book: RateBook, wire: WireColumns, kind: KindRows, priced: PricedColumns, n: dict[Combo, int]
    ) -> None:
        counts = kind.ints(count_field, 1)
        at = wire.occurred_us[kind.rows]
        for sku, mine in _by_sku(kind.fields[sku_field]):
            found = _versions(book, meter, sku, at[mine], price_type)
            if found is None:
                priced.declined[kind.rows[mine]] = True
                continue
            for version, price_of, where in found:
                chosen = mine[where]
                rate = _unit_rate(price_of)
                if rate is None:
                    priced.declined[kind.rows[chosen]] = True
                    continue
                rows = kind.rows[chosen]
                _put(priced, rows, _times(counts[chosen], rate), _times(counts[chosen], PICO))
                if meter == "embedding":
                    priced.tokens[rows, 0] = counts[chosen]
                provider = sku if meter == "vector_query" else ""
                priced.combo[rows] = _combo(n, (meter, provider, sku, "", unit, version))

    return price


def _unit_rate(price: Price) -> int | None:
    if isinstance(price, ToolPrice):
        return unit_rate_pico(price.per_call)
    if isinstance(price, VectorQueryPrice):
        return unit_rate_pico(price.per_query)
    if isinstance(price, EmbeddingPrice):
        return token_rate_pico(price.per_mtok)
    return None


def amount_units(values: Sequence[str | int]) -> tuple[Money, Mask]:
    """Seconds or minutes as units of 1e-12 (``_keep_amount`` of plain digits), and which are exact here.

    An amount past int64's units (over ~106 days of seconds; the contract allows 366) is left to the
    worker's path, as one past the contract's bound: 0 here, not exact."""
    units: list[int] = []
    ok: list[bool] = []
    for value in values:
        if type(value) is int:
            whole, fraction = value, ""
        else:
            whole_text, _, fraction = str(value).partition(".")
            whole = int(whole_text)
        if len(fraction) > 12:  # rounded by _keep_amount: left to the worker
            units.append(0)
            ok.append(False)
            continue
        amount = whole * PICO + (int(fraction.ljust(12, "0")) if fraction else 0)
        fits = 0 <= amount <= _MAX_AMOUNT_UNITS
        units.append(amount if fits else 0)
        ok.append(fits)
    return np.array(units, dtype=np.int64), np.array(ok, np.bool_)


def _timed(meter: str, field: str, unit: str, price_type: type[Any], per: int) -> Any:
    """Compute seconds at a whole pico-dollar rate an hour, review minutes at one a minute: rounded
    half-even at the 12th place, as pricing's ``_keep`` rounds the exact Decimal quotient."""

    def price(
        book: RateBook, wire: WireColumns, kind: KindRows, priced: PricedColumns, n: dict[Combo, int]
    ) -> None:
        units, exact = amount_units(kind.fields[field])
        priced.declined[kind.rows[~exact]] = True
        at = wire.occurred_us[kind.rows]
        for sku, mine in _by_sku(kind.fields["sku"]):
            found = _versions(book, meter, sku, at[mine], price_type)
            if found is None:
                priced.declined[kind.rows[mine]] = True
                continue
            for version, price_of, where in found:
                chosen = mine[where]
                rate = unit_rate_pico(getattr(price_of, _RATE[meter]))
                if rate is None:
                    priced.declined[kind.rows[chosen]] = True
                    continue
                amounts = units[chosen].astype(object)  # amount times rate passes int64
                _put(priced, kind.rows[chosen], _half_even(amounts * rate, per * PICO), units[chosen])
                priced.combo[kind.rows[chosen]] = _combo(n, (meter, "", sku, "", unit, version))

    return price


_RATE = {"compute": "per_hour", "human_review": "per_minute"}


def _storage(
    book: RateBook, wire: WireColumns, kind: KindRows, priced: PricedColumns, n: dict[Combo, int]
) -> None:
    """Bytes for seconds at a rate a GB-month, in Decimal as :func:`streams.pricing._storage` does."""
    units, exact = amount_units(kind.fields["seconds"])
    priced.declined[kind.rows[~exact]] = True
    at = wire.occurred_us[kind.rows]
    sizes = kind.ints("bytes", 0)  # msgspec bounded each to MAX_BYTES: int64
    for sku, mine in _by_sku(kind.fields["sku"]):
        found = _versions(book, "storage", sku, at[mine], StoragePrice)
        if found is None:
            priced.declined[kind.rows[mine]] = True
            continue
        for version, price, where in found:
            chosen = mine[where]
            per_gb_month = price.per_gb_month  # type: ignore[union-attr]
            # Each distinct (size, seconds) priced once: a fleet repeats a few sizes and periods.
            pairs, each = np.unique(
                np.stack((sizes[chosen], units[chosen]), axis=1), axis=0, return_inverse=True
            )
            costs, months = [], []
            for size, amount in pairs.tolist():
                seconds = Decimal(amount).scaleb(-12)
                gb_months = _WIDE.divide(
                    _WIDE.multiply(_WIDE.divide(Decimal(size), BYTES_PER_GB), seconds), SECONDS_PER_MONTH
                )
                costs.append(_units(_WIDE.multiply(gb_months, per_gb_month)))
                months.append(_units(gb_months))
            rows = kind.rows[chosen]
            picks = each.reshape(-1)
            _put(priced, rows, _objects(costs)[picks], _objects(months)[picks])
            priced.combo[rows] = _combo(n, ("storage", "", sku, "", "gb_months", version))


def _objects(values: list[int]) -> Money:
    """Python ints as an object array, each kept as it is (a cost may pass int64)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _units(amount: Decimal) -> int:
    """An amount kept at the ledger's scale (pricing's ``_keep``) as units of 1e-12."""
    units: int = int(amount.quantize(SCALE, rounding=ROUND_HALF_EVEN, context=_WIDE).scaleb(12, _WIDE))
    return units


def _outcome(
    book: RateBook, wire: WireColumns, kind: KindRows, priced: PricedColumns, n: dict[Combo, int]
) -> None:
    """Free; counted by quantity, failed where not a success."""
    quantity = kind.ints("quantity", 1)
    _put(priced, kind.rows, np.zeros(len(kind.rows), np.int64), _times(quantity, PICO))
    success = kind.fields["success"]
    priced.success[kind.rows] = [s is not False for s in success]
    for sku, mine in _by_sku(kind.fields["outcome_type"]):
        priced.combo[kind.rows[mine]] = _combo(n, ("outcome", "", sku, "", "outcomes", ""))


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


_PRICERS = {
    "llm": _llm,
    "tool": _per_unit("tool", "tool", "calls", "calls", ToolPrice),
    "embedding": _per_unit("embedding", "model", "tokens", "tokens", EmbeddingPrice),
    "vector_query": _per_unit("vector_query", "provider", "queries", "queries", VectorQueryPrice),
    "compute": _timed("compute", "seconds", "seconds", ComputePrice, 3600),
    "human_review": _timed("human_review", "minutes", "minutes", HumanReviewPrice, 1),
    "storage": _storage,
    "outcome": _outcome,
}
