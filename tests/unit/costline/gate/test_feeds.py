"""The live spend topic as the gate reads it: budget figures, partition marks, and what it skips."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from costline.config import Settings
from costline.gate.feeds import LiveSpendFeed
from costline.gate.reservations import ReservationBook
from schemas.gate import LiveSpend, PartitionMark, live_spend_key, partition_mark_key
from streams.spend_rules import BudgetBook

NOON = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_figures_and_marks_go_to_the_book_and_a_bad_record_is_skipped() -> None:
    book = ReservationBook(BudgetBook())
    feed = LiveSpendFeed(Settings(), book)
    figure = LiveSpend(budget_id="acme-day", subject="", period_start=NOON, spend=Decimal("0.3"), partition=2,
                       position=7, published_at=NOON)  # fmt: skip
    key = live_spend_key("acme-day", "")

    feed.apply(key, figure.model_dump_json().encode())
    feed.apply(
        partition_mark_key(2), PartitionMark(partition=2, behind=0, at=NOON).model_dump_json().encode()
    )
    feed.apply(live_spend_key("acme-week", ""), b'{"spend": "lots"}')

    assert book.spend == {key: figure}
    assert book.marks[2].behind == 0
    feed.apply(key, None)  # a tombstone
    assert book.spend == {}
