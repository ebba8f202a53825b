"""The sync client waits the client's own default for an answer unless told how long (a 100M-row merge)."""

from __future__ import annotations

from typing import Any

import pytest

from costline import clickhouse
from costline.config import Settings


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(clickhouse.clickhouse_connect, "get_client", lambda **kwargs: calls.append(kwargs))
    return calls


def test_a_sync_client_keeps_the_default_wait_unless_told(opened: list[dict[str, Any]]) -> None:
    settings = Settings(clickhouse_url="http://127.0.0.1:18123")
    clickhouse.open_client(settings)
    clickhouse.open_client(settings, wait_s=7200)
    assert "send_receive_timeout" not in opened[0]
    assert opened[1]["send_receive_timeout"] == 7200
    assert opened[1]["database"] == opened[0]["database"] == settings.clickhouse_database
