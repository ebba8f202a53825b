"""A receiver can tell a Costline alert from a forgery, and a fresh one from a replay."""

from __future__ import annotations

import pytest

from costline.webhooks.signing import SignatureError, new_secret, signature_header, verify

BODY = b'{"alert_id":"al_1","rule":"budget_threshold","customer_id":"acme"}'
SIGNED_AT = 1_733_312_345


def test_the_receiver_verifies_what_the_sender_signed() -> None:
    secret = new_secret()
    header = signature_header(secret, SIGNED_AT, BODY)
    assert header.startswith(f"t={SIGNED_AT},v1=")
    assert verify(secret, header, BODY, now=SIGNED_AT + 10) == SIGNED_AT


def test_a_changed_body_does_not_verify() -> None:
    secret = new_secret()
    header = signature_header(secret, SIGNED_AT, BODY)
    with pytest.raises(SignatureError, match="no v1 signature matches"):
        verify(secret, header, BODY.replace(b"acme", b"umbrella"), now=SIGNED_AT)


def test_another_secret_does_not_verify() -> None:
    header = signature_header(new_secret(), SIGNED_AT, BODY)
    with pytest.raises(SignatureError):
        verify(new_secret(), header, BODY, now=SIGNED_AT)


def test_a_delivery_replayed_later_than_the_tolerance_is_refused() -> None:
    secret = new_secret()
    header = signature_header(secret, SIGNED_AT, BODY)
    with pytest.raises(SignatureError, match="more than 300 s"):
        verify(secret, header, BODY, now=SIGNED_AT + 301)


def test_a_resigned_timestamp_does_not_verify_the_old_signature() -> None:
    secret = new_secret()
    forged = signature_header(secret, SIGNED_AT, BODY).replace(f"t={SIGNED_AT}", f"t={SIGNED_AT + 600}")
    with pytest.raises(SignatureError):
        verify(secret, forged, BODY, now=SIGNED_AT + 600)


def test_any_of_several_v1_signatures_may_match_while_a_secret_is_rotated() -> None:
    old, new = new_secret(), new_secret()
    second = signature_header(new, SIGNED_AT, BODY).split(",")[1]
    header = signature_header(old, SIGNED_AT, BODY) + "," + second
    assert verify(new, header, BODY, now=SIGNED_AT) == SIGNED_AT


@pytest.mark.parametrize("header", ["", "v1=abc", "t=soon,v1=abc", f"t={SIGNED_AT},t=1,v1=abc"])
def test_a_malformed_header_is_refused(header: str) -> None:
    with pytest.raises(SignatureError):
        verify(new_secret(), header, BODY, now=SIGNED_AT)
