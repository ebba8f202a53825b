"""Detector state as changelog bytes: versioned JSON.

The standard library's encoder, not orjson: sums of 1e-12 USD outgrow 64
bits past $9.2M a bucket, and orjson refuses such integers.
"""

from __future__ import annotations

import json
from typing import Any

FORMAT_VERSION = 1


class StateFormatError(ValueError):
    """The bytes are not detector state this version can read; the key starts afresh."""


def dump_state(state: dict[str, Any]) -> bytes:
    return json.dumps({"v": FORMAT_VERSION, **state}, separators=(",", ":")).encode()


def load_state(raw: bytes) -> dict[str, Any]:
    data = json.loads(raw)
    if not isinstance(data, dict) or data.get("v") != FORMAT_VERSION:
        raise StateFormatError(f"not detector state of version {FORMAT_VERSION}")
    return data
