"""What the migration tests share: how a test migrates a database as it was before a later migration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from costline.config import Settings

# Given a database and which DDL files to keep, migrates it with those alone: the ``migrate_only`` fixture.
MigrateOnly = Callable[[Settings, Callable[[Path], bool]], None]
