"""Audio and image tokens: their own rates where the price has them, a dead letter where not."""

from __future__ import annotations

from decimal import Decimal

import pytest

from streams.pricing import PriceCatalog, UnpriceableEventError
from tests.factories import AUDIO_PRICES as AUDIO
from tests.factories import llm_call as call


@pytest.fixture
def catalog() -> PriceCatalog:
    return PriceCatalog([AUDIO])


def test_an_audio_call_pays_audio_rates_for_its_audio_and_text_rates_for_the_rest(
    catalog: PriceCatalog,
) -> None:
    priced = catalog.price(
        call(
            "openai/gpt-4o-audio-preview",
            input_tokens=10_000,
            cached_input_tokens=3_000,
            input_audio_tokens=6_000,
            cached_audio_input_tokens=2_000,
            output_tokens=2_000,
            output_audio_tokens=1_500,
        )
    )
    # text: 3,000 plain × $2.50 + 1,000 cached × $1.25 + 500 out × $10
    # audio: 4,000 × $40 + 2,000 cached × $2.50 + 1,500 out × $80, per M
    assert priced.cost == Decimal("0.0075") + Decimal("0.00125") + Decimal("0.005") + Decimal(
        "0.16"
    ) + Decimal("0.005") + Decimal("0.12")
    assert (priced.tokens.input_audio, priced.tokens.cached_audio_input, priced.tokens.output_audio) == (
        6_000,
        2_000,
        1_500,
    )


def test_a_service_tier_with_its_own_audio_rate_pays_it(catalog: PriceCatalog) -> None:
    audio = {"input_tokens": 1_000, "input_audio_tokens": 1_000, "output_tokens": 0}
    assert catalog.price(call("openai/gpt-4o-audio-preview", **audio)).cost == Decimal("0.04")
    batch = call("openai/gpt-4o-audio-preview", **audio, batch=True)
    assert catalog.price(batch).cost == Decimal("0.02")  # its batch audio rate, $20 per M


def test_image_tokens_pay_image_rates(catalog: PriceCatalog) -> None:
    raw = call(
        "google/gemini-2.5-flash-image",
        input_tokens=2_000,
        input_image_tokens=1_000,
        output_tokens=1_290,
        output_image_tokens=1_290,
    )
    # 1,000 text × $0.30 + 1,000 image × $0.30 + 1,290 image out × $30, per M
    assert catalog.price(raw).cost == Decimal("0.0393")


@pytest.mark.parametrize(
    ("model", "fields", "kind"),
    [
        ("openai/gpt-4o", {"input_audio_tokens": 10}, "audio input"),
        ("openai/gpt-4o", {"output_audio_tokens": 10}, "audio output"),
        ("openai/gpt-4o-audio-preview", {"input_image_tokens": 10}, "image input"),
        (
            "google/gemini-2.5-flash-image",
            {"cached_input_tokens": 10, "input_image_tokens": 10, "cached_image_input_tokens": 10},
            "cached image input",
        ),
    ],
)
def test_tokens_of_a_kind_the_price_has_no_rate_for_are_unpriceable_never_text_priced(
    catalog: PriceCatalog, model: str, fields: dict[str, int], kind: str
) -> None:
    raw = call(model, input_tokens=100, output_tokens=100, **fields)
    with pytest.raises(UnpriceableEventError) as err:
        catalog.price(raw)
    assert err.value.reason.startswith(f"{model} has no {kind} price in version audio-1"), err.value.reason


def test_a_text_only_call_needs_no_media_rates(catalog: PriceCatalog) -> None:
    raw = call("openai/gpt-4o", input_tokens=1_000_000, output_tokens=0)
    assert catalog.price(raw).cost == Decimal("2.5")
