"""API keys: handed out once, parsed strictly, checked by their hash."""

from __future__ import annotations

from datetime import UTC, datetime

from costline.api.keys import ApiKey, Scope, hash_secret, new_key, parse_bearer, parse_key

CREATED = datetime(2026, 11, 20, tzinfo=UTC)


def stored(secret_form: str, **fields: object) -> ApiKey:
    presented = parse_key(secret_form)
    assert presented is not None
    values: dict[str, object] = {
        "key_id": presented.key_id,
        "secret_sha256": hash_secret(presented.secret),
        "name": "acme's support bot",
        "scopes": frozenset({Scope.INGEST}),
        "customer_id": "acme",
        "created_at": CREATED,
        **fields,
    }
    return ApiKey(**values)  # type: ignore[arg-type]


def test_a_new_key_reads_back_as_its_id_and_matches_only_its_own_hash() -> None:
    key_id, secret_form, digest = new_key()
    presented = parse_key(secret_form)
    assert presented is not None and presented.key_id == key_id
    assert hash_secret(presented.secret) == digest
    assert presented.matches(stored(secret_form))
    _, other_form, _ = new_key()
    assert not presented.matches(stored(other_form, key_id=key_id))


def test_the_secret_is_never_what_is_stored() -> None:
    _, secret_form, digest = new_key()
    assert secret_form.split("_", 2)[2].encode() != digest and len(digest) == 32


def test_anything_but_a_well_formed_bearer_key_is_no_key() -> None:
    _, secret_form, _ = new_key()
    assert parse_bearer(f"Bearer {secret_form}") == parse_key(secret_form)
    assert parse_bearer(f"bearer  {secret_form} ") == parse_key(secret_form)
    for header in (
        None,
        "",
        secret_form,
        f"Basic {secret_form}",
        "Bearer cl_zz_short",
        f"Bearer {secret_form}x",
    ):
        assert parse_bearer(header) is None


def test_a_key_grants_its_scopes_admin_grants_all_and_a_revoked_key_nothing() -> None:
    _, secret_form, _ = new_key()
    ingest = stored(secret_form)
    assert ingest.allows(Scope.INGEST) and not ingest.allows(Scope.READ)
    assert stored(secret_form, scopes=frozenset({Scope.ADMIN})).allows(Scope.READ)
    assert not stored(secret_form, revoked_at=CREATED).allows(Scope.INGEST)


def test_a_customer_bound_key_acts_for_its_customer_only() -> None:
    _, secret_form, _ = new_key()
    assert stored(secret_form).may_act_for("acme") and not stored(secret_form).may_act_for("globex")
    assert stored(secret_form, customer_id=None).may_act_for("globex")
