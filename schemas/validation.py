"""How a file or message that fails its contract is described: one line, every problem named."""

from __future__ import annotations

from pydantic import ValidationError


def problems(exc: ValidationError, whole: str) -> str:
    """``field.path: message; …``, with ``whole`` naming an error about the document itself."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or whole}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )
