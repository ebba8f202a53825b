"""Who is calling: the Bearer key, looked up in the store and trusted for ``ttl_s``.

A lookup (found or not) is cached for ``ttl_s`` seconds (5 by default,
``COSTLINE_API_KEY_CACHE_S``), so a revoked key is refused at most that long
after ``costline keys revoke``, and a new key works at most that long after
a request named its id too early. The cache is bounded: ids that no key has
cannot grow it without end.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from costline.api.keys import ApiKey, PresentedKey, Scope

MAX_CACHED = 10_000


class Unauthorized(Exception):
    """401: no key, or not a key that is valid now. The message never says which."""


class Forbidden(Exception):
    """403: a valid key that may not do this."""


class KeyCache:
    def __init__(
        self,
        lookup: Callable[[str], Awaitable[ApiKey | None]],
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self.ttl_s = ttl_s
        self._clock = clock
        self._keys: OrderedDict[str, tuple[float, ApiKey | None]] = OrderedDict()

    async def get(self, key_id: str) -> ApiKey | None:
        now = self._clock()
        cached = self._keys.get(key_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self._lookup(key_id)
        self._keys[key_id] = (now + self.ttl_s, found)
        self._keys.move_to_end(key_id)
        while len(self._keys) > MAX_CACHED:
            self._keys.popitem(last=False)
        return found

    async def authenticate(self, presented: PresentedKey | None, scope: Scope) -> ApiKey:
        if presented is None:
            raise Unauthorized("send an API key as `Authorization: Bearer <key>`")
        stored = await self.get(presented.key_id)
        # The secret is compared even when the id is unknown, so timing does not tell the two apart.
        matches = presented.matches(stored if stored is not None else _NOBODY)
        if stored is None or not matches or stored.revoked_at is not None:
            raise Unauthorized("the API key is not valid (unknown, wrong or revoked)")
        if not stored.allows(scope):
            raise Forbidden(f"the API key lacks the {scope.value!r} scope")
        return stored


_NOBODY = ApiKey("", b"\0" * 32, "", frozenset(), None, created_at=datetime.min.replace(tzinfo=UTC))


def require_customer(key: ApiKey, customer: str | None) -> None:
    """A customer-bound key reads only its customer's data, and names it: a key asking for another
    customer, or for every customer, is refused (403), never answered with a silently filtered list."""
    if key.customer_id is None or customer == key.customer_id:
        return
    if customer is None:
        raise Forbidden(
            f"this key reads only customer {key.customer_id!r}; name it (customer={key.customer_id})"
        )
    raise Forbidden(f"this key reads only customer {key.customer_id!r}, not {customer!r}")


def require_unbound(key: ApiKey, what: str) -> None:
    """What spans every customer is for keys that are not bound to one."""
    if key.customer_id is not None:
        raise Forbidden(f"{what} spans every customer; a key bound to {key.customer_id!r} cannot read it")
