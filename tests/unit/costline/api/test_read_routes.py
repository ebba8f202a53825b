"""The read routes: each asks for a key before anything else, and /docs shows what each answers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from costline.api.app import create_app
from costline.config import Settings

READS = {
    "/v1/costs": "Page_CostLine_",
    "/v1/customers/{customer}/invoices/{period}": "InvoiceDocument",
    "/v1/invoices": "Page_InvoiceDocument_",
    "/v1/economics": "EconomicsDocument",
    "/v1/dead-letters": "Page_DeadLetterSummary_",
    "/v1/dead-letters/{letter_id}": "DeadLetterDetail",
}


def test_docs_show_the_model_of_every_read() -> None:
    spec = create_app(Settings()).openapi()
    for path, model in READS.items():
        answer = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer == {"$ref": f"#/components/schemas/{model}"}


@pytest.mark.parametrize(
    "url",
    [
        "/v1/costs",
        "/v1/customers/acme/invoices/2026-11",
        "/v1/invoices?period=2026-11",
        "/v1/economics?period=2026-11",
        "/v1/dead-letters",
        "/v1/dead-letters/usage:0:1:0",
    ],
)
def test_a_read_without_a_key_is_a_401(url: str) -> None:
    answer = TestClient(create_app(Settings())).get(url)  # no lifespan: nothing connects
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"
