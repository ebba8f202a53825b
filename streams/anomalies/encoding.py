"""Detector state as changelog bytes: MessagePack, or (older, and for integers past 64 bits) versioned JSON.

Written as one MessagePack array, ``[2, key, ...]`` (the format's version
first, then the detector's fields, its dictionaries and integers as they
are): msgspec writes it in C, with none of the sorted copies and merged
dictionaries JSON's shape took (bench/spend_commit.py). An integer that
MessagePack cannot hold (past 64 bits: a sum of 1e-12 USD units past 9.2
million USD) is written as before, as JSON.

Both are read: the JSON object starts with ``{``, the MessagePack array never
does. JSON, as every version before wrote it, is written by msgspec where its
bytes are the standard library's (compact, every character of the key plain
ASCII, integers of any size), else by the standard library's encoder: the
same bytes either way; and read by the standard library's decoder, which
keeps such integers exact.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import msgspec

FORMAT_VERSION = 1  # the JSON object's "v"
PACKED_VERSION = 2  # the MessagePack array's first item
# What a detector's to_bytes catches to write JSON instead (``dump_state``): an integer past 64
# bits, or a key MessagePack cannot write (a lone surrogate), which JSON escapes.
PACK_ERRORS = (OverflowError, ValueError, msgspec.EncodeError)
pack = msgspec.msgpack.Encoder().encode


class StateFormatError(ValueError):
    """The bytes are not detector state this version can read; the key starts afresh."""


def is_json(raw: bytes) -> bool:
    """Whether ``raw`` is the JSON object of :func:`dump_state` (else :func:`pack` 's array)."""
    return raw[:1] == b"{"


def unpack_state(raw: bytes, decoder: msgspec.msgpack.Decoder[Any]) -> Any:
    """``raw`` (:func:`pack` of ``[PACKED_VERSION, ...]``) as ``decoder`` reads it, its version checked."""
    try:
        data = decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise StateFormatError(f"not detector state of version {PACKED_VERSION}: {exc}") from exc
    if data[0] != PACKED_VERSION:
        raise StateFormatError(f"not detector state of version {PACKED_VERSION}")
    return data


class _Detector(Protocol):
    def to_json(self) -> dict[str, Any]: ...


def packed(fields: tuple[Any, ...], detector: _Detector) -> bytes:
    """``fields`` (``PACKED_VERSION`` first) as MessagePack, in one call: a batch encodes tens of
    thousands. Where MessagePack cannot hold them (:data:`PACK_ERRORS`), ``detector``'s JSON as
    :func:`dump_state` writes it; ``to_json`` is looked up only then."""
    try:
        return pack(fields)
    except PACK_ERRORS:
        return dump_state(detector.to_json())


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
