"""What the read routes share: their error answers, and parameters parsed as the CLI parses them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from billing.exceptions import BillingError
from costline.api.service import ApiError

T = TypeVar("T")

READ_ERRORS: dict[int | str, dict[str, str]] = {
    400: {"description": "a parameter is not valid; the error says which"},
    401: {"description": "no valid API key"},
    403: {"description": "the key lacks the read scope, or is bound to another customer"},
}


def parsed(name: str, parse: Callable[[str], T], text: str) -> T:
    """``parse(text)``; a value it refuses is a 400 naming the parameter."""
    try:
        return parse(text)
    except BillingError as exc:
        raise ApiError(400, f"{name}: {exc}") from None
