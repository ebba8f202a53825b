"""What the migration tests share: how a test migrates a database as it was before a later migration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from costline.config import Settings

# Given a database and which DDL files to keep, migrates it with those alone: the ``migrate_only`` fixture.
MigrateOnly = Callable[[Settings, Callable[[Path], bool]], None]

# Columns a writer names by the EPHEMERAL column they are stored from since migration 025 made them
# ALIAS columns (sql/ddl/025_ledger_implied_columns.sql); readers still read these names.
WRITTEN_AS_SENT_SINCE_025 = ("kind", "provider", "sku", "unit", "price_version", "quantity", "cost")


def since_025(names: list[str]) -> list[str]:
    """A writer's ``names`` for the ledger before 025, as it gives them to the ledger since."""
    return [f"{name}_sent" if name in WRITTEN_AS_SENT_SINCE_025 else name for name in names]
