"""A key bound to a customer reads that customer's data only, and says so: never a silent filter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from costline.api.auth import Forbidden, require_customer, require_unbound
from costline.api.keys import ApiKey, Scope


def key(customer: str | None) -> ApiKey:
    return ApiKey("k", b"\0" * 32, "", frozenset({Scope.READ}), customer, datetime(2026, 11, 20, tzinfo=UTC))


def test_a_bound_key_reads_its_own_customer() -> None:
    require_customer(key("acme"), "acme")


def test_a_bound_key_asking_for_another_customer_is_refused_by_name() -> None:
    with pytest.raises(Forbidden, match="'acme', not 'globex'"):
        require_customer(key("acme"), "globex")


def test_a_bound_key_asking_for_every_customer_must_name_its_own() -> None:
    with pytest.raises(Forbidden, match="customer=acme"):
        require_customer(key("acme"), None)


def test_an_unbound_key_reads_any_customer_or_all() -> None:
    require_customer(key(None), "globex")
    require_customer(key(None), None)
    require_unbound(key(None), "economics")


def test_what_spans_every_customer_is_refused_a_bound_key() -> None:
    with pytest.raises(Forbidden, match="economics"):
        require_unbound(key("acme"), "economics")
