"""Which ClickHouse failures are retried, blamed on rows, or left to the operator."""

from __future__ import annotations

import struct

import pytest
from clickhouse_connect.driver import exceptions as ch

from streams.sinks.errors import RejectedRowsError, SinkConfigError, TransientSinkError, classify


def server(code: int, text: str = "") -> ch.DatabaseError:
    return ch.DatabaseError(f"Code: {code}. DB::Exception: {text}", code=code)


@pytest.mark.parametrize(
    "exc",
    [
        ch.OperationalError("Network Error: Cannot connect to host 127.0.0.1:18123"),
        TimeoutError(),
        ConnectionResetError(),
        server(159, "Timeout exceeded"),
        server(241, "Memory limit exceeded"),
        server(252, "Too many parts (300). Merges are processing significantly slower than inserts"),
    ],
)
def test_a_server_that_is_away_or_busy_is_transient(exc: Exception) -> None:
    assert isinstance(classify(exc), TransientSinkError)


@pytest.mark.parametrize(
    "exc",
    [
        ch.DataError("Unable to create native array for column `window_start`: error"),
        struct.error("'I' format requires 0 <= number <= 4294967295"),
        OverflowError("int too big to convert"),
        server(469, "Constraint `positive_cost` is violated at row 1"),
        server(252, "Too many partitions for single INSERT block (more than 100)"),
    ],
)
def test_a_value_the_table_cannot_hold_blames_the_rows(exc: Exception) -> None:
    kind = classify(exc)
    assert isinstance(kind, RejectedRowsError)
    assert str(kind)  # the server's own words travel into the dead letter


@pytest.mark.parametrize(
    "exc",
    [server(60, "Table costline.ledger does not exist"), server(516, "Authentication failed")],
)
def test_a_server_that_refuses_every_write_is_for_the_operator(exc: Exception) -> None:
    assert isinstance(classify(exc), SinkConfigError)


def test_a_bug_of_ours_is_none_of_them() -> None:
    assert classify(AttributeError("'NoneType' object has no attribute 'event'")) is None
