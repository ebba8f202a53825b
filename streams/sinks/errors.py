"""What a failed ClickHouse call means for the stream.

    Exception
     └── SinkError                 the sink's own failures, each says what happens next
          ├── TransientSinkError   the server is away, slow or busy: retry the same call
          ├── RejectedRowsError    these rows can never be stored: isolate and dead-letter them
          └── SinkConfigError      the server refuses every write (schema, auth, settings):
                                   the stream waits, loudly, for the operator

Third-party exceptions are translated here, at one boundary, so the
processor decides on our three kinds and never on driver or server codes.
"""

from __future__ import annotations

import asyncio
import struct
from typing import ClassVar

from clickhouse_connect.driver import exceptions as ch

# Server error codes that pass by themselves: overload, timeouts, lost
# connections, merges lagging, a replica or keeper away.
TRANSIENT_CODES = frozenset(
    {
        3,  # UNEXPECTED_END_OF_FILE
        32,  # ATTEMPT_TO_READ_AFTER_EOF
        159,  # TIMEOUT_EXCEEDED
        164,  # READONLY (a replica during restart)
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        203,  # NO_FREE_CONNECTION
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        236,  # ABORTED
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        252,  # TOO_MANY_PARTS, unless it is about partitions per INSERT block
        285,  # TOO_FEW_LIVE_REPLICAS
        319,  # UNKNOWN_STATUS_OF_INSERT
        394,  # QUERY_WAS_CANCELLED
        425,  # SYSTEM_ERROR
        439,  # CANNOT_SCHEDULE_TASK
        999,  # KEEPER_EXCEPTION
        1000,  # POCO_EXCEPTION
    }
)

# Server error codes that blame the rows sent, not the server.
REJECTED_ROW_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        131,  # TOO_LARGE_STRING_SIZE
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        407,  # DECIMAL_OVERFLOW
        469,  # VIOLATED_CONSTRAINT
    }
)

_PARTITIONS_PER_BLOCK = "partitions for single INSERT block"


class SinkError(Exception):
    """A ClickHouse call failed; the subclass says what the stream does next."""

    kind: ClassVar[str] = ""  # the subclass's name in logs and metric labels (streams/metrics.py)


class TransientSinkError(SinkError):
    """Retry the same call after a short backoff."""

    kind = "transient"


class RejectedRowsError(SinkError):
    """The rows sent cannot be stored as they are; find which and dead-letter them."""

    kind = "rejected_rows"


class SinkConfigError(SinkError):
    """Every write would fail until the operator acts; wait and say so."""

    kind = "config"


def classify(exc: BaseException) -> SinkError | None:
    """Our kind of ``exc``, carrying the server's own message; None for a bug of ours,
    which should stop the worker rather than be retried or blamed on the data."""
    if isinstance(exc, SinkError):
        return exc
    message = ch.scrub_error_details(str(exc)) or type(exc).__name__
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | ConnectionError | ch.OperationalError):
        return TransientSinkError(message)
    # Client-side serialization: a value the column type cannot hold.
    if isinstance(exc, ch.DataError | OverflowError | struct.error | ValueError | TypeError):
        return RejectedRowsError(message)
    code = getattr(exc, "code", None)
    if code == 252 and _PARTITIONS_PER_BLOCK in str(exc):
        return RejectedRowsError(message)
    if code in TRANSIENT_CODES:
        return TransientSinkError(message)
    if code in REJECTED_ROW_CODES:
        return RejectedRowsError(message)
    if isinstance(exc, ch.Error):
        return SinkConfigError(message)
    return TransientSinkError(message) if isinstance(exc, OSError) else None
