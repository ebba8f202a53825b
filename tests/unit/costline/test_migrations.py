"""Applying a DDL file: a table setting the server does not know is skipped and said so; any other
refusal stops the migration."""

from __future__ import annotations

from typing import Any, cast

import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from costline.migrations import _run

TUNING = "ALTER TABLE ledger MODIFY SETTING materialize_statistics_on_merge = 0"


class Refusing:
    """A client whose server refuses every statement with ``code``."""

    def __init__(self, code: int) -> None:
        self.code = code
        self.run: list[str] = []

    def command(self, statement: str) -> Any:
        self.run.append(statement)
        raise DatabaseError(f"Code: {self.code}. DB::Exception", code=self.code)


def test_a_table_setting_an_older_server_does_not_know_is_skipped_and_said() -> None:
    said: list[str] = []
    client = Refusing(115)  # UNKNOWN_SETTING
    _run(cast(Client, client), TUNING, "026_merge_statistics_off.sql", said.append)
    assert client.run == [TUNING]
    assert said == [
        f"026_merge_statistics_off.sql: this server does not know a setting of {TUNING!r}; skipped"
    ]


@pytest.mark.parametrize(
    ("statement", "code"),
    [
        (TUNING, 62),  # a syntax error is no unknown setting
        ("CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x SETTINGS no_such = 1", 115),  # not a tuning
        ("ALTER TABLE ledger MODIFY COLUMN x UInt8", 115),
    ],
)
def test_every_other_refusal_stops_the_migration(statement: str, code: int) -> None:
    with pytest.raises(DatabaseError):
        _run(cast(Client, Refusing(code)), statement, "0xx.sql", lambda _: None)
