"""What is retried, and when: only what may pass, on a doubling schedule."""

from __future__ import annotations

import pytest

from costline.webhooks.retries import DeliveryStatus, retry_delay_s, status_after
from costline.webhooks.runner import alert_of


@pytest.mark.parametrize("code", [200, 201, 202, 204])
def test_any_2xx_is_a_delivery(code: int) -> None:
    assert status_after(code) is DeliveryStatus.DELIVERED


@pytest.mark.parametrize("code", [500, 502, 503, 504, 408, 425, 429])
def test_server_errors_timeouts_and_throttling_are_tried_again(code: int) -> None:
    assert status_after(code) is DeliveryStatus.PENDING


@pytest.mark.parametrize("code", [301, 400, 401, 403, 404, 410, 422])
def test_the_receivers_considered_refusal_is_not_retried(code: int) -> None:
    assert status_after(code) is DeliveryStatus.FAILED


def test_the_wait_doubles_from_the_base_up_to_the_cap() -> None:
    waits = [retry_delay_s(n, base_s=30, max_s=3600) for n in range(1, 10)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_three_days_of_retries_is_about_seventy_attempts_at_the_defaults() -> None:
    elapsed, attempts = 0.0, 0
    while elapsed <= 3 * 86400:
        attempts += 1
        elapsed += retry_delay_s(attempts, 30, 3600)
    assert 70 <= attempts <= 80


def test_an_alert_is_read_with_its_id_and_customer() -> None:
    alert = alert_of(b"al_1", b'{"alert_id":"al_1","scope":{"customer_id":"acme"}}')
    assert alert is not None
    assert (alert.alert_id, alert.customer_id) == ("al_1", "acme")


@pytest.mark.parametrize("value", [b"not json", b"[1]", b'{"rule":"x"}', None])
def test_a_message_without_an_alert_is_skipped_not_fatal(value: bytes | None) -> None:
    assert alert_of(None, value) is None
