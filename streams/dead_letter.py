"""Dead letters: rejected input, kept byte for byte with the reason.

A dead letter is the original message (same key, same value) on the
dead-letter topic, with headers that say why it was rejected and where it
came from. Replaying one is publishing its key and value to the usage topic
again; if the cause is fixed (a price added, a producer bug fixed upstream
and the message repaired), it is counted, otherwise it comes back here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from schemas.dead_letters import DeadLetterCode

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
MAX_REASON_PART_CHARS = 200
MAX_REASON_ERRORS = 5


def describe_validation_error(exc: ValidationError) -> tuple[DeadLetterCode, str]:
    """(code, reason) for an event that failed to decode or validate."""
    errors = exc.errors(include_url=False, include_input=True)
    invalid_json = next((e for e in errors if e["type"] == "json_invalid"), None)
    if invalid_json is not None:
        detail = (invalid_json.get("ctx") or {}).get("error", invalid_json["msg"])
        return DeadLetterCode.MALFORMED_JSON, f"not valid JSON: {_cut(str(detail))}"
    parts = []
    for error in errors[:MAX_REASON_ERRORS]:
        where = ".".join(_cut(str(p), 64) for p in error["loc"]) or "event"
        parts.append(f"{where}: {_cut(_message(error))}")
    extra = len(errors) - MAX_REASON_ERRORS
    more = f" (+{extra} more)" if extra > 0 else ""
    return DeadLetterCode.INVALID_EVENT, "; ".join(parts) + more


def _message(error: Any) -> str:
    if error["type"] in ("int_type", "int_parsing", "int_from_float"):
        # Strict counts: say what came instead, the usual producer bug.
        return f"must be a JSON integer, not {_json_kind(error.get('input'))}"
    if error["type"] == "bool_type":
        return f"must be true or false, not {_json_kind(error.get('input'))}"
    return str(error["msg"])


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {_cut(repr(value), 40)}"
    if isinstance(value, Decimal):
        return f"the number {_cut(str(value), 40)} (written with a fraction or exponent)"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _cut(text: str, limit: int = MAX_REASON_PART_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _code(text: str) -> DeadLetterCode:
    # A letter written by a newer worker may carry a code this one lacks.
    try:
        return DeadLetterCode(text)
    except ValueError:
        return DeadLetterCode.INVALID_EVENT
