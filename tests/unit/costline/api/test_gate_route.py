"""The gate's routes: documented with their models, a key first, and 503 until the gate has loaded."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from costline.api.app import create_app
from costline.api.keys import ApiKey, Scope
from costline.config import Settings


def test_docs_show_the_check_and_the_release_with_their_models() -> None:
    paths = create_app(Settings()).openapi()["paths"]
    check = paths["/v1/gate/check"]["post"]
    assert check["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/GateCheck"
    }
    assert set(check["responses"]) >= {"200", "400", "401", "403", "503"}
    release = paths["/v1/gate/reservations/{reservation_id}"]["delete"]
    assert set(release["responses"]) >= {"200", "404"}


def test_a_check_without_a_key_is_a_401() -> None:
    answer = TestClient(create_app(Settings())).post(
        "/v1/gate/check", json={}
    )  # no lifespan: nothing connects
    assert answer.status_code == 401


def test_a_gate_that_has_not_read_its_topics_answers_503_in_one_line() -> None:
    app = create_app(Settings())
    gate_key = ApiKey("k", b"", "", frozenset({Scope.GATE}), "acme", datetime(2026, 11, 20, tzinfo=UTC))

    async def authenticate(presented: object, scope: Scope) -> ApiKey:
        return gate_key

    app.state.service.keys.authenticate = authenticate
    body = {"customer_id": "acme", "agent_id": "researcher", "estimate": "0.10"}
    answer = TestClient(app).post("/v1/gate/check", json=body)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert answer.json() == {
        "error": "the budget gate is still reading its budgets and live spend; retry shortly"
    }
