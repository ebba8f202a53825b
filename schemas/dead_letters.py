"""Dead letters: the one list of codes, and the record on the dead-letter topic.

Every producer of a dead letter names one of these codes; the CLI, the API
and the ``dead_letters`` table derive their choices from it. A dead letter is
the original message (same key, same value) with headers that say why it was
rejected and where it came from. Replaying one is publishing its key and value
to the usage topic again; if the cause is fixed, it is counted, otherwise it
comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class DeadLetterCode(StrEnum):
    MALFORMED_JSON = "malformed_json"  # not JSON, or JSON with duplicate keys
    INVALID_EVENT = "invalid_event"  # JSON, but not a usage event of the contract
    EMPTY_MESSAGE = "empty_message"  # an array with no events in it
    OUT_OF_BOUNDS = "out_of_bounds"  # occurred_at too old or too far ahead (settings)
    WRONG_KEY = "wrong_key"  # the Kafka key is not the event's customer_id
    UNPRICEABLE = "unpriceable"  # no price version covers it
    UNSTORABLE = "unstorable"  # ClickHouse refused the event's rows for good


HEADER_PREFIX = "costline."
TRUNCATED_FROM = "truncated_from"  # header: the payload's full size, where the topic has a prefix
# Room for the record's own framing (batch header, varints) under the broker's limit.
RECORD_OVERHEAD = 1024
MAX_REASON_CHARS = 2000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    code: DeadLetterCode
    reason: str
    source_topic: str
    source_partition: int
    source_offset: int
    key: bytes | None
    value: bytes | None
    failed_at: datetime
    source_index: int = 0  # the event's place in its message
    # Set on a letter read back from the topic whose payload there is cut: the
    # full size. The whole payload is in the ``dead_letters`` table.
    truncated_from: int | None = None

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            (f"{HEADER_PREFIX}error_code", self.code.encode()),
            (f"{HEADER_PREFIX}reason", self.reason[:MAX_REASON_CHARS].encode()),
            (f"{HEADER_PREFIX}source_topic", self.source_topic.encode()),
            (f"{HEADER_PREFIX}source_partition", str(self.source_partition).encode()),
            (f"{HEADER_PREFIX}source_offset", str(self.source_offset).encode()),
            (f"{HEADER_PREFIX}source_index", str(self.source_index).encode()),
            (f"{HEADER_PREFIX}failed_at", self.failed_at.isoformat().encode()),
        ]

    def record(self, max_bytes: int) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
        """Key, value and headers for the topic, the value cut to fit ``max_bytes``.

        A letter the broker refused would be lost, and with it every later
        letter of its batch; a cut one still says what, where and why.
        """
        headers = self.headers()
        value = self.value
        size = len(self.key or b"") + len(value or b"") + sum(len(k) + len(v) for k, v in headers)
        if value is not None and size + RECORD_OVERHEAD > max_bytes:
            keep = max(0, len(value) - (size + RECORD_OVERHEAD - max_bytes) - 64)
            headers.append((f"{HEADER_PREFIX}{TRUNCATED_FROM}", str(len(value)).encode()))
            value = value[:keep]
        return self.key, value, headers

    def row(self) -> list[Any]:
        """The ``dead_letters`` table row: the whole payload, whatever its size."""
        return [
            self.failed_at,
            self.code,
            self.reason,
            self.source_topic,
            self.source_partition,
            self.source_offset,
            (self.key or b"").decode(errors="replace"),
            self.value or b"",  # bytes as they came: a replay must send them unchanged
            self.source_index,
        ]

    @classmethod
    def from_record(cls, key: bytes | None, value: bytes | None, headers: Any) -> DeadLetter:
        fields = {
            k.removeprefix(HEADER_PREFIX): v.decode() for k, v in headers or () if k.startswith(HEADER_PREFIX)
        }
        truncated = fields.get(TRUNCATED_FROM)
        return cls(
            code=_code(fields.get("error_code", "")),
            reason=fields.get("reason", ""),
            source_topic=fields.get("source_topic", ""),
            source_partition=int(fields.get("source_partition", -1)),
            source_offset=int(fields.get("source_offset", -1)),
            key=key,
            value=value,
            failed_at=datetime.fromisoformat(fields["failed_at"])
            if "failed_at" in fields
            else datetime.now(UTC),
            source_index=int(fields.get("source_index", 0)),
            truncated_from=int(truncated) if truncated is not None else None,
        )


# A reason travels in a Kafka header and a ClickHouse row; hostile input
# (a 5 MB key, a 5 MB kind) must not make it large. The payload carries it all.


def _code(text: str) -> DeadLetterCode:
    # A letter written by a newer worker may carry a code this one lacks.
    try:
        return DeadLetterCode(text)
    except ValueError:
        return DeadLetterCode.INVALID_EVENT
