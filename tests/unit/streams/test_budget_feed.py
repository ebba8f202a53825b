"""The budgets topic, read by a worker: what it says in its log while loading and once running."""

from __future__ import annotations

import json
import logging

import pytest

from costline.config import Settings
from streams.budget_feed import BudgetFeed
from streams.spend_rules import BudgetBook


def budget(budget_id: str, amount: str = "1000") -> bytes:
    return json.dumps(
        {"budget_id": budget_id, "customer_id": "acme", "period": "month", "amount": amount}
    ).encode()


def test_loading_ten_thousand_budgets_names_the_first_hundred_then_every_change_is_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    book = BudgetBook()
    feed = BudgetFeed(Settings(), book)
    caplog.set_level(logging.INFO, logger="streams.budget_feed")

    for i in range(10_000):
        feed.apply(f"b{i}".encode(), budget(f"b{i}"))
    feed.apply(b"b0", None)
    assert len(book) == 9_999
    assert [r.getMessage() for r in caplog.records] == [
        f"budget b{i} in force: acme month 1000" for i in range(100)
    ]
    assert feed.loaded() == "budgets loaded: 9999 in force (100 named above)"  # once caught up

    caplog.clear()
    feed.ready.set()
    feed.apply(b"b1", budget("b1", amount="2000"))
    feed.apply(b"b2", None)
    assert [r.getMessage() for r in caplog.records] == [
        "budget b1 in force: acme month 2000",
        "budget b2 deleted",
    ]


def test_an_invalid_budget_is_an_error_line_even_while_loading(caplog: pytest.LogCaptureFixture) -> None:
    feed = BudgetFeed(Settings(), BudgetBook())
    feed.apply(b"bad", b'{"budget_id": "bad"}')
    assert [r.levelname for r in caplog.records] == ["ERROR"]
