"""What the gate follows: the budgets topic (as every worker does) and the worker's live spend topic.

Both are compacted topics read from their start (:mod:`streams.compacted_feed`);
the gate answers once both have been read to their end. A feed that fails
(Kafka away, the topic not made yet) is started again after a pause, and
reads from the start again: applying a record twice changes nothing.
"""

from __future__ import annotations

import asyncio
import logging

from pydantic import ValidationError

from costline.config import Settings
from costline.gate.reservations import ReservationBook
from schemas.gate import LiveSpend, PartitionMark, partition_mark_key
from streams.compacted_feed import CompactedFeed

log = logging.getLogger(__name__)
RESTART_AFTER_S = 2.0
MARK_PREFIX = partition_mark_key(0)[:1]  # the separator: no budget key starts with it


class LiveSpendFeed(CompactedFeed):
    def __init__(self, settings: Settings, book: ReservationBook) -> None:
        super().__init__(settings)
        self.book = book

    @property
    def topic(self) -> str:
        return self.settings.budget_spend_topic

    @property
    def missing_topic_hint(self) -> str:
        return "`costline worker` creates it"

    def loaded(self) -> str:
        return f"live spend loaded: {len(self.book.spend)} budget figures"

    def apply(self, key: bytes | None, raw: bytes | None) -> None:
        if raw is None:
            if key is not None:
                self.book.forget_spend(key)
            return
        try:
            if key is not None and key.startswith(MARK_PREFIX):
                self.book.apply_mark(PartitionMark.model_validate_json(raw))
            else:
                self.book.apply_spend(LiveSpend.model_validate_json(raw))
        except ValidationError as exc:
            log.error("ignoring an invalid record on %s: %s", self.topic, exc)


async def follow(feed: CompactedFeed) -> None:
    """Run ``feed`` until cancelled, starting it again whenever it fails."""
    while True:
        try:
            await feed.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("following %s failed (%s); again in %.0f s", feed.topic, exc, RESTART_AFTER_S)
        await asyncio.sleep(RESTART_AFTER_S)
