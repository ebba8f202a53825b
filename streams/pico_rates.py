"""An LLM price's text rates as whole pico-dollars per token, where that is exact.

A rate of ``r`` USD per million tokens is ``r * 10**6`` pico-dollars (1e-12
USD, the ledger's unit) per token. When that is a whole number for every
text rate of a price, a call's cost is a sum of integer products, equal to
the Decimal sum :mod:`streams.pricing` computes (each term there is exact,
so nothing is rounded) at a fraction of its cost. A price with a rate finer
than that, or a tiered rate, has no integer rates and is priced in Decimal.

Per-call, per-query and per-token (embedding) rates are whole pico-dollars
the same way (:func:`unit_rate_pico`, :func:`token_rate_pico`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal, Inexact

from schemas.events import LlmCall
from schemas.prices import LlmPrice

# Shifting the exponent is exact unless the digits exceed the precision: trap that.
_EXACT = Context(prec=60, traps=[Inexact])


@dataclass(frozen=True, slots=True)
class TextRates:
    """Pico-dollars per token; the cached and cache-write rates already fall back to the input rate."""

    input: int
    cached_input: int
    cache_write: int
    output: int
    reasoning: int  # the output rate where the price has no reasoning rate


def text_rates(price: LlmPrice) -> TextRates | None:
    """The price's text rates in pico-dollars per token, or None where one is not a whole number."""
    input_rate = _pico(price.input_per_mtok)
    output = _pico(price.output_per_mtok)
    cached = input_rate if price.cached_input_per_mtok is None else _pico(price.cached_input_per_mtok)
    write = input_rate if price.cache_write_per_mtok is None else _pico(price.cache_write_per_mtok)
    reasoning = output if price.reasoning_per_mtok is None else _pico(price.reasoning_per_mtok)
    if input_rate is None or output is None or cached is None or write is None or reasoning is None:
        return None
    return TextRates(input_rate, cached, write, output, reasoning)


def text_cost_pico(event: LlmCall, rates: TextRates) -> int:
    """A text-only call's cost in pico-dollars (audio and image tokens are not priced here)."""
    return (
        event.text_input_tokens * rates.input
        + event.text_cached_input_tokens * rates.cached_input
        + event.cache_write_tokens * rates.cache_write
        + event.text_output_tokens * rates.output
        + event.reasoning_tokens * rates.reasoning
    )


def token_rate_pico(per_mtok: Decimal) -> int | None:
    """A rate in USD per million tokens as whole pico-dollars per token, or None where it is finer."""
    return _pico(per_mtok)


def unit_rate_pico(rate: Decimal) -> int | None:
    """A rate in USD per unit (a call, a query) as whole pico-dollars, or None where it is finer."""
    return _pico(rate, 12)


def _pico(rate: object, shift: int = 6) -> int | None:
    """USD per 10**(12 - shift) units as pico-dollars per unit: per million tokens by default."""
    if not isinstance(rate, Decimal):
        return None  # a tiered rate depends on the prompt: priced in Decimal
    try:
        scaled = rate.scaleb(shift, _EXACT)
    except Inexact:
        return None
    return int(scaled) if scaled.is_finite() and scaled == scaled.to_integral_value() else None
