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


def test_loading_ten_thousand_budgets_says_one_line_then_every_change_is_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    book = BudgetBook()
    feed = BudgetFeed(Settings(), book)
    caplog.set_level(logging.INFO, logger="streams.budget_feed")

    for i in range(10_000):
        feed.apply(f"b{i}".encode(), budget(f"b{i}"))
    feed.apply(b"b0", None)
    assert len(book) == 9_999
    assert caplog.records == []  # the caught-up line (CompactedFeed.run) says how many are in force

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
