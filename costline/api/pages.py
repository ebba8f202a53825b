"""Pages of a list: ``limit`` and an opaque ``cursor``, answered as ``{"data": [...], "next_cursor": ...}``.

A cursor is the sort key of the last row of the page before (keyset
pagination, never OFFSET): the next page is the rows whose key sorts after
it, so rows arriving meanwhile neither repeat nor shift a row off a page.
It is base64url JSON and carries no secret; a key's customer binding is
checked on every page, so a forged cursor can only skip rows it may read.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from costline.api.service import ApiError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

T = TypeVar("T")
R = TypeVar("R")
Scalar = str | int

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"rows per page, 1 to {MAX_LIMIT}")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the page before; none for the first")]


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None = Field(description="give it as `cursor` for the next page; null on the last")


def encode_cursor(key: Sequence[Scalar]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None, shape: Sequence[type[Scalar]]) -> tuple[Scalar, ...] | None:
    """The key in ``cursor``, each part of the type ``shape`` gives; a 400 if it is not one we gave out."""
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, UnicodeError, ValueError):
        key = None
    if (
        not isinstance(key, list)
        or len(key) != len(shape)
        or not all(type(part) is kind for part, kind in zip(key, shape, strict=True))
    ):
        raise ApiError(400, "cursor: not a cursor of this list; give the `next_cursor` of the page before")
    return tuple(key)


def page(rows: Sequence[R], limit: int, key: Callable[[R], Sequence[Scalar]]) -> tuple[list[R], str | None]:
    """``rows`` (at most ``limit`` + 1, one more than a page, to tell whether another page follows)
    cut to a page, and the cursor of the next page or None."""
    if len(rows) <= limit:
        return list(rows), None
    shown = list(rows[:limit])
    return shown, encode_cursor(key(shown[-1]))
