"""Detector state as changelog bytes: versioned JSON.

Written by msgspec where its bytes are the standard library's (compact, every
character of the key plain ASCII, integers of any size), else by the standard
library's encoder: the same bytes either way. Not orjson: its bytes, kept in
the table as these are, cost ~3 µs a detector against msgspec's ~0.8
(bench/spend_records.py). Read by the standard library's decoder,
which keeps such integers exact.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

FORMAT_VERSION = 1


class StateFormatError(ValueError):
    """The bytes are not detector state this version can read; the key starts afresh."""


def dump_state(state: dict[str, Any]) -> bytes:
    """``state``: integers, lists of them, and the detector's key, its only string."""
    data = {"v": FORMAT_VERSION, **state}
    key = state.get("key", "")
    # What both encoders write alike: ASCII short of DEL (control characters both escape as \u00XX).
    if key.isascii() and "\x7f" not in key:
        try:
            return msgspec.json.encode(data)
        except (msgspec.EncodeError, OverflowError):  # whatever it cannot write, json can
            pass
    return json.dumps(data, separators=(",", ":")).encode()


def load_state(raw: bytes) -> dict[str, Any]:
    data = json.loads(raw)
    if not isinstance(data, dict) or data.get("v") != FORMAT_VERSION:
        raise StateFormatError(f"not detector state of version {FORMAT_VERSION}")
    return data
