"""Keep a worker's budgets in step with the compacted budgets topic (:mod:`streams.compacted_feed`).

A budget loaded, changed or deleted (a tombstone) while workers run is
applied within a poll, without a restart.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from costline.config import Settings
from schemas.budgets import Budget
from streams.compacted_feed import CompactedFeed
from streams.spend_rules import BudgetBook

log = logging.getLogger(__name__)
NAMED_AT_LOAD = 100


class BudgetFeed(CompactedFeed):
    def __init__(self, settings: Settings, book: BudgetBook) -> None:
        super().__init__(settings)
        self.book = book
        self._named = 0  # budgets named in the log while loading

    def _say(self, message: str, *args: object) -> None:
        # Loading a topic of 10k budgets at start would be 10k lines (and a few CPU-seconds) of log:
        # the first NAMED_AT_LOAD are named, the rest at debug, and the caught-up line says how many
        # are in force. Every change once caught up is told.
        if self.ready.is_set() or self._named < NAMED_AT_LOAD:
            self._named += 0 if self.ready.is_set() else 1
            log.info(message, *args)
        else:
            log.debug(message, *args)

    def loaded(self) -> str:
        more = f" ({self._named} named above)" if self._named >= NAMED_AT_LOAD else ""
        return f"budgets loaded: {len(self.book)} in force{more}"

    @property
    def topic(self) -> str:
        return self.settings.budgets_topic

    @property
    def missing_topic_hint(self) -> str:
        return "`costline worker` creates it"

    def apply(self, key: bytes | None, raw: bytes | None) -> None:
        if raw is None:
            if key is not None:
                self.book.remove(key.decode())
                self._say("budget %s deleted", key.decode())
            return
        try:
            budget = Budget.model_validate_json(raw)
        except ValidationError as exc:
            log.error("ignoring an invalid budget on %s: %s", self.settings.budgets_topic, exc)
            return
        self.book.put(budget)
        self._say("budget %s in force: %s %s %s", budget.budget_id, budget.scope_label,
                  budget.period_label, budget.amount)  # fmt: skip
