"""The read API against the real broker, worker and ClickHouse: the CLI's figures, over HTTP.

Two customers' agents send text messages (twilio-sms, $0.008 a call) over
the day of 2026-11-20, through ``POST /v1/events``; the worker prices them.
Then every read is asked twice, of ``costline`` and of the API, and the
answers must be the same JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from billing import store
from costline.api import key_store
from costline.api.keys import Scope
from costline.config import Settings
from costline.dev.harness import Pipeline
from schemas.plans import BillingFile
from tests.e2e.api_client import api_client, api_pipeline, bearer
from tests.factories import run_command, usage

DAY = ["--from", "2026-11-20T00:00:00Z", "--to", "2026-11-21T00:00:00Z"]
HOURS = range(6, 18)  # each agent sends one message an hour
AGENTS = {"acme": ["support-bot", "sales-bot"], "globex": ["invoice-extractor"]}

BILLING = {
    "meters": [{"name": "messages", "aggregation": "count", "filter": {"kinds": ["tool"]}}],
    "plans": [{"plan": "pro", "version": "1", "charges": [
        {"kind": "platform_fee", "amount": "22.00"},
        {"kind": "usage", "meter": "messages", "unit_price": "0.50"},
    ]}],
    "subscriptions": [
        {"customer_id": "acme", "plan": "pro", "version": "1", "starts_on": "2026-11-01"},
        {"customer_id": "globex", "plan": "pro", "version": "1", "starts_on": "2026-11-01"},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def pipeline(services: Settings) -> Iterator[Pipeline]:
    p = api_pipeline(services, "read_api")
    store.load(p.db, BillingFile.model_validate(BILLING))
    yield p
    p.close()


@pytest.fixture(scope="module")
def api(pipeline: Pipeline) -> Iterator[httpx.Client]:
    with api_client(pipeline) as client:
        sent = [
            usage(f"{agent}-{hour}", customer=customer, agent=agent, at=f"2026-11-20T{hour:02d}:15:00Z")
            for customer, agents in AGENTS.items()
            for agent in agents
            for hour in HOURS
        ]
        answer = client.post("/v1/events", json=sent, headers=bearer(pipeline, None, Scope.INGEST))
        assert answer.json()["accepted"] == len(sent)
        pipeline.publish([], raw=[(b"acme", b'{"kind": "tool", "event_id": "cut-off"')])
        pipeline.wait_until_counted(len(sent))
        yield client


@pytest.fixture(scope="module")
def reader(pipeline: Pipeline) -> dict[str, str]:
    return bearer(pipeline, None, Scope.READ)


def cli_json(pipeline: Pipeline, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert run_command(pipeline.settings, *argv, "--format", "json") == 0
    return json.loads(capsys.readouterr().out)


def test_a_customers_costs_are_the_clis(
    pipeline: Pipeline, api: httpx.Client, reader: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    for group_by in ("agent,category", "agent,window", "category"):
        cli = cli_json(pipeline, capsys, "costs", "--customer", "acme", *DAY, "--group-by", group_by)
        params = {"customer": "acme", "from": DAY[1], "to": DAY[3], "group_by": group_by, "limit": 1000}
        answer = api.get("/v1/costs", params=params, headers=reader).json()
        assert answer == {"data": cli, "next_cursor": None}
    by_agent = {row["agent"]: row["cost"] for row in cli_json(pipeline, capsys, "costs", "--customer", "acme",
                                                               "--group-by", "agent")}  # fmt: skip
    assert by_agent == {"sales-bot": "0.096000000000", "support-bot": "0.096000000000"}


def test_pages_of_costs_hold_every_row_exactly_once(api: httpx.Client, reader: dict[str, str]) -> None:
    params: dict[str, Any] = {"group_by": "customer,agent,window", "from": DAY[1], "to": DAY[3], "limit": 5}
    whole = api.get("/v1/costs", params={**params, "limit": 1000}, headers=reader).json()["data"]
    assert len(whole) == 3 * len(HOURS)
    walked: list[dict[str, Any]] = []
    cursor = None
    while True:
        answer = api.get(
            "/v1/costs", params={**params, "cursor": cursor} if cursor else params, headers=reader
        )
        body = answer.json()
        assert len(body["data"]) <= 5
        walked += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert walked == whole


def test_a_draft_invoice_is_the_clis(
    pipeline: Pipeline, api: httpx.Client, reader: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    cli = cli_json(pipeline, capsys, "invoice", "--customer", "acme", "--period", "2026-11")
    assert api.get("/v1/customers/acme/invoices/2026-11", headers=reader).json() == cli
    assert cli["status"] == "draft" and cli["total"] == "34.00"  # 22.00 + 24 messages × 0.50
    listed = api.get("/v1/invoices", params={"period": "2026-11", "limit": 1}, headers=reader).json()
    assert listed["data"] == [cli]
    rest = api.get(
        "/v1/invoices", params={"period": "2026-11", "cursor": listed["next_cursor"]}, headers=reader
    )
    assert [i["customer_id"] for i in rest.json()["data"]] == ["globex"] and rest.json()[
        "next_cursor"
    ] is None


def test_economics_are_the_clis(
    pipeline: Pipeline, api: httpx.Client, reader: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("economics", "--period", "2026-11", "--by", "agent", "--infra-cost-per-hour", "0.10")
    cli = cli_json(pipeline, capsys, *argv)
    params = {"period": "2026-11", "by": "agent", "infra_cost_per_hour": "0.10"}
    assert api.get("/v1/economics", params=params, headers=reader).json() == cli


def test_a_key_bound_to_acme_reads_acme_and_is_refused_globex(pipeline: Pipeline, api: httpx.Client) -> None:
    acme = bearer(pipeline, "acme", Scope.READ)
    assert api.get("/v1/costs", params={"customer": "acme"}, headers=acme).status_code == 200
    refused = [
        api.get("/v1/costs", params={"customer": "globex"}, headers=acme),
        api.get("/v1/costs", headers=acme),  # every customer's: a bound key must name its own
        api.get("/v1/customers/globex/invoices/2026-11", headers=acme),
        api.get("/v1/invoices", params={"period": "2026-11"}, headers=acme),
        api.get("/v1/economics", params={"period": "2026-11"}, headers=acme),
        api.get("/v1/dead-letters", headers=acme),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert "'acme'" in refused[0].json()["error"]


def test_a_revoked_key_is_401_and_an_ingest_key_403(pipeline: Pipeline, api: httpx.Client) -> None:
    key, secret = key_store.create_key(pipeline.db, [Scope.READ], None, "to revoke")
    revoked = {"Authorization": f"Bearer {secret}"}
    assert api.get("/v1/costs", headers=revoked).status_code == 200
    key_store.revoke_key(pipeline.db, key.key_id)
    assert api.get("/v1/costs", headers=revoked).status_code == 401
    ingest_only = bearer(pipeline, None, Scope.INGEST)
    assert api.get("/v1/costs", headers=ingest_only).status_code == 403


def test_a_malformed_event_is_listed_with_its_payload(
    pipeline: Pipeline, api: httpx.Client, reader: dict[str, str]
) -> None:
    pipeline.wait_for("SELECT count() FROM dead_letters FINAL", 1)
    letters = api.get("/v1/dead-letters", params={"code": "malformed_json"}, headers=reader).json()
    (letter,) = letters["data"]
    assert letter["customer"] is None and letter["topic"] == pipeline.settings.usage_topic
    assert "JSON" in letter["reason"]
    one = api.get(f"/v1/dead-letters/{letter['letter_id']}", headers=reader).json()
    assert one["payload"] == '{"kind": "tool", "event_id": "cut-off"' and one["key"] == "acme"
    # It names no customer, so a key bound to one does not see it.
    acme = bearer(pipeline, "acme", Scope.READ)
    mine = api.get("/v1/dead-letters", params={"customer": "acme"}, headers=acme).json()
    assert mine == {"data": [], "next_cursor": None}
    assert api.get(f"/v1/dead-letters/{letter['letter_id']}", headers=acme).status_code == 403


def test_bad_parameters_are_one_line_400s(api: httpx.Client, reader: dict[str, str]) -> None:
    for path, params in [
        ("/v1/costs", {"limit": 0}),
        ("/v1/costs", {"limit": 1001}),
        ("/v1/costs", {"from": "yesterday"}),
        ("/v1/costs", {"cursor": "not-ours"}),
        ("/v1/invoices", {"period": "2026-13"}),
        ("/v1/dead-letters", {"since": "soon"}),
    ]:
        answer = api.get(path, params=params, headers=reader)
        assert answer.status_code == 400, (path, params, answer.text)
        assert "\n" not in answer.json()["error"]
