"""Why the worker rejects an event, in words an operator can act on.

The record itself (:class:`schemas.dead_letters.DeadLetter`) is the
dead-letter topic's contract.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from schemas.dead_letters import DeadLetterCode

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
