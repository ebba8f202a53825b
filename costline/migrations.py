"""Apply ``sql/ddl/NNN_*.sql`` in order, once each, recorded in ``schema_migrations``."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from costline.clickhouse import SQL_DIR, open_client
from costline.config import Settings


class MigrationError(Exception):
    pass


# A table setting that tunes how a newer server works (026's materialize_statistics_on_merge, ClickHouse
# 26.1 on) is refused as unknown by an older one, which has nothing for it to tune (docker-compose runs 25.8).
_UNKNOWN_SETTING = 115
_TUNING = re.compile(r"ALTER TABLE \S+ MODIFY SETTING [^;]+", re.DOTALL)


def _run(client: Client, statement: str, name: str, log: Callable[[str], None]) -> None:
    """``statement`` run; a table's setting the server does not know skipped, and said so."""
    try:
        client.command(statement)
    except DatabaseError as error:
        if error.code != _UNKNOWN_SETTING or _TUNING.fullmatch(statement) is None:
            raise
        log(f"{name}: this server does not know a setting of {statement!r}; skipped")


def ddl_files(directory: Path = SQL_DIR / "ddl") -> list[Path]:
    return sorted(directory.glob("[0-9][0-9][0-9]_*.sql"))


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def migrate(settings: Settings, log: Callable[[str], None] = print) -> list[str]:
    """Create the database if needed and apply pending DDL; returns what was applied."""
    database = settings.clickhouse_database
    open_client(settings, database="").command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    return _apply(open_client(settings), database, log)


def _apply(client: Client, database: str, log: Callable[[str], None]) -> list[str]:
    client.command(
        f"CREATE TABLE IF NOT EXISTS `{database}`.schema_migrations "
        "(name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = ReplacingMergeTree ORDER BY name"
    )
    done = {
        row[0]: row[1]
        for row in client.query(
            f"SELECT name, checksum FROM `{database}`.schema_migrations FINAL"
        ).result_rows
    }
    applied = []
    for path in ddl_files():
        text = path.read_text()
        checksum = hashlib.sha256(text.encode()).hexdigest()
        if path.name in done:
            if done[path.name] != checksum:
                raise MigrationError(f"{path.name} changed after it was applied; add a new migration instead")
            continue
        for statement in _statements(text):
            _run(client, statement, path.name, log)
        client.insert(
            f"`{database}`.schema_migrations",
            [[path.name, checksum]],
            column_names=["name", "checksum"],
        )
        applied.append(path.name)
        log(f"applied {path.name}")
    return applied
