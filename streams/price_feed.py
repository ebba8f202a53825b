"""Keep a worker's price catalog in step with the compacted prices topic (:mod:`streams.compacted_feed`)."""

from __future__ import annotations

import logging

from pydantic import ValidationError

from costline.config import Settings
from schemas.prices import PriceVersion
from streams.compacted_feed import CompactedFeed
from streams.pricing import PriceCatalog

log = logging.getLogger(__name__)


class PriceFeed(CompactedFeed):
    def __init__(self, settings: Settings, catalog: PriceCatalog) -> None:
        super().__init__(settings)
        self.catalog = catalog

    @property
    def topic(self) -> str:
        return self.settings.prices_topic

    @property
    def missing_topic_hint(self) -> str:
        return "run `costline prices load`"

    def loaded(self) -> str:
        return f"price catalog loaded: {len(self.catalog)} versions"

    def apply(self, key: bytes | None, raw: bytes | None) -> None:
        self._apply(raw)

    def _apply(self, raw: bytes | None) -> None:
        if raw is None:
            return
        try:
            version = PriceVersion.model_validate_json(raw)
        except ValidationError as exc:
            log.error("ignoring an invalid price version on %s: %s", self.settings.prices_topic, exc)
            return
        self.catalog.add(version)
        log.info("price version %s (from %s) in use", version.version, version.effective_from)
