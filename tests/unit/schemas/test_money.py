"""Pico-dollars: an amount at the ledger's scale as an exact integer, and back."""

from __future__ import annotations

from decimal import Decimal

import pytest

from schemas.money import from_pico, to_pico


@pytest.mark.parametrize(
    "usd", ["0", "0.000000000001", "0.5", "-3.000000000007", "1E-12", "1000000000000000.000000000001"]
)
def test_an_amount_at_the_ledgers_scale_is_a_whole_number_of_pico_dollars(usd: str) -> None:
    amount = Decimal(usd)
    assert from_pico(to_pico(amount)) == amount
    assert from_pico(to_pico(amount)).as_tuple().exponent == -12  # the column's scale, as the ledger shows it


def test_a_finer_amount_is_refused_rather_than_rounded() -> None:
    with pytest.raises(ValueError, match="finer than the ledger's scale"):
        to_pico(Decimal("0.0000000000001"))
