"""The dashboard in headless Chromium (Debian's, never downloaded) over `make demo`'s sample day.

Screenshots of each view go to the directory each test prints (under COSTLINE_HOME/screenshots).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from billing import store
from billing.costs import cost_summary
from billing.invoices import BillingContext, invoice_for
from billing.periods import Period
from billing.render import invoice_document
from costline.api.keys import Scope
from costline.budgets import publish_and_record
from costline.config import Settings
from costline.dev import browser
from costline.dev.demo import PLANS_DIR, demo_price_versions
from costline.dev.harness import Pipeline
from costline.dev.sample_day import DAY, sample_day
from schemas.budgets import Budget
from schemas.money import to_cents
from tests.e2e.api_client import api_client, api_pipeline, bearer

SAMPLE_DAY = DAY.date().isoformat()
PAGE_QUERY = f"from={SAMPLE_DAY}&to={SAMPLE_DAY}&at={SAMPLE_DAY}"
API_QUERY = {"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat(), "at": SAMPLE_DAY}
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@dataclass
class Dashboard:
    pipeline: Pipeline
    api: httpx.Client
    admin: dict[str, str]
    acme: dict[str, str]


@pytest.fixture(scope="module")
def dashboard(services: Settings) -> Iterator[Dashboard]:
    """The sample day, counted; set up before Chromium, whose driver holds this thread's event loop."""
    pipeline = api_pipeline(services, "dashboard")
    pipeline.load_prices(demo_price_versions(pipeline.settings))
    # acme-corp spends about $147 on the day: past half and all of $100 a month, and its
    # research agent past $40 a day, so the worker fires alerts the views show.
    budgets = [
        Budget.model_validate(b)
        for b in (
            {"budget_id": "acme-month", "customer_id": "acme-corp", "period": "month", "amount": "100"},
            {"budget_id": "acme-research-day", "customer_id": "acme-corp", "scope": "customer_agent",
             "agent_id": "research-agent", "period": "day", "amount": "40", "thresholds": [100]},
        )
    ]  # fmt: skip
    publish_and_record(pipeline.settings, pipeline.db, budgets)
    wait_until_in_force(pipeline, budgets)
    events = sample_day()
    bad = [(b"acme-corp", b'{"kind": "llm", "event_id": "broken"'), (b"globex", b"[]")]
    pipeline.publish(events, raw=bad)
    pipeline.wait_until_counted(len(events))
    pipeline.wait_for("SELECT count() FROM dead_letters FINAL", 2)
    for name in ("meters.json", "example.json"):
        store.load(pipeline.db, store.read_billing_file(PLANS_DIR / name))
    pipeline.wait_until_windows_match_ledger()
    with api_client(pipeline) as api:
        yield Dashboard(
            pipeline,
            api,
            admin=bearer(pipeline, None, Scope.ADMIN),
            acme=bearer(pipeline, "acme-corp", Scope.READ),
        )
    pipeline.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    executable = browser.ensure_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), args=list(browser.FLAGS))
        yield launched
        launched.close()


@pytest.fixture
def shots(services: Settings, request: pytest.FixtureRequest) -> Path:
    """Kept under COSTLINE_HOME (git-ignored), not pytest's tmp dir, which other runs prune."""
    folder = services.home / "screenshots" / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


def wait_until_in_force(pipeline: Pipeline, budgets: list[Budget], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for budget in budgets:
        while f"budget {budget.budget_id} in force" not in Path(pipeline.log_path).read_text(
            errors="replace"
        ):
            assert time.monotonic() < deadline, pipeline.workers_report()
            time.sleep(0.2)


def open_dashboard(
    chromium: Browser, dashboard: Dashboard, key: dict[str, str], query: str, viewport: str
) -> Page:
    page = chromium.new_page(viewport=VIEWPORTS[viewport])  # type: ignore[arg-type]
    page.goto(f"{str(dashboard.api.base_url).rstrip('/')}/dashboard?{query}")
    page.fill("#key", key["Authorization"].removeprefix("Bearer "))
    page.keyboard.press("Enter")  # the key form works from the keyboard alone
    return page


def on_screen(amount: str) -> str:
    """How the page prints an exact amount: to the cent, half-even, in dollars."""
    cents = to_cents(Decimal(amount))
    return f"{'-' if cents < 0 else ''}${abs(cents):,.2f}"


def figures_settled(page: Page, exact_total: str) -> None:
    page.wait_for_function(
        "total => document.querySelector('[data-figure=total]').dataset.exact === total", arg=exact_total
    )


def test_the_overview_prints_the_api_figures_which_equal_the_cli(
    dashboard: Dashboard, chromium: Browser, shots: Path
) -> None:
    api = dashboard.api.get("/v1/dashboard/overview", params=API_QUERY, headers=dashboard.admin).json()
    cli_total = sum(
        (row.cost for row in cost_summary(dashboard.pipeline.db, DAY, DAY + timedelta(days=1))), Decimal(0)
    )
    assert Decimal(api["total"]) == cli_total == Decimal(api["spend"]["today"]) > 0
    assert {s["name"] for s in api["series"]} >= {"llm", "tool", "compute"}

    for viewport in VIEWPORTS:
        page = open_dashboard(chromium, dashboard, dashboard.admin, PAGE_QUERY, viewport)
        figures_settled(page, api["total"])
        for figure in ("today", "month", "projected"):
            element = page.locator(f'[data-figure="spend.{figure}"]')
            assert element.inner_text() == on_screen(api["spend"][figure])
            assert (
                element.get_attribute("title")
                == f"${Decimal(api['spend'][figure]).quantize(Decimal('1e-6')):,}"
            )
        assert page.locator('[data-figure="total"]').inner_text() == on_screen(api["total"])
        # The rankings come in a second request, after the figures.
        expect(page.locator('#top-customers [data-figure="cost"]')).to_have_count(len(api["top_customers"]))
        printed = page.locator('#top-customers [data-figure="cost"]').all_inner_texts()
        assert printed == [on_screen(row["cost"]) for row in api["top_customers"]]
        expect(page.locator("#chart")).to_have_attribute("data-series", str(len(api["series"])))
        expect(page.locator("#chart svg")).to_have_count(1)  # drawn by the vendored ECharts
        page.screenshot(path=shots / f"overview-{viewport}.png", full_page=True)
        page.close()


def test_the_page_loads_nothing_from_outside_its_own_origin(dashboard: Dashboard, chromium: Browser) -> None:
    origin = str(dashboard.api.base_url).rstrip("/")
    page = chromium.new_page(viewport=VIEWPORTS["desktop"])  # type: ignore[arg-type]
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{origin}/dashboard?{PAGE_QUERY}")
    page.fill("#key", dashboard.admin["Authorization"].removeprefix("Bearer "))
    page.keyboard.press("Enter")
    expect(page.locator("#chart svg")).to_have_count(1)
    assert f"{origin}/dashboard/vendor/echarts.min.js" in requested
    assert [url for url in requested if not url.startswith(f"{origin}/")] == []
    notice = dashboard.api.get("/dashboard/vendor/echarts.NOTICE")
    assert notice.status_code == 200 and "Apache ECharts" in notice.text
    page.close()


def test_without_its_chart_library_the_page_says_so_in_one_line_and_still_shows_figures(
    dashboard: Dashboard, chromium: Browser
) -> None:
    page = chromium.new_page(viewport=VIEWPORTS["desktop"])  # type: ignore[arg-type]
    page.route("**/dashboard/vendor/echarts.min.js", lambda route: route.fulfill(status=404, body="{}"))
    page.goto(f"{str(dashboard.api.base_url).rstrip('/')}/dashboard?{PAGE_QUERY}")
    page.fill("#key", dashboard.admin["Authorization"].removeprefix("Bearer "))
    page.keyboard.press("Enter")
    expect(page.locator("#chart")).to_contain_text("python -m costline.dev.vendor")
    expect(page.locator('[data-figure="total"]')).not_to_have_text("…")
    page.close()


def test_a_customer_key_sees_only_its_own_customer(
    dashboard: Dashboard, chromium: Browser, shots: Path
) -> None:
    other = dashboard.api.get(
        "/v1/dashboard/overview", params={**API_QUERY, "customer": "globex"}, headers=dashboard.acme
    )
    assert other.status_code == 403
    assert other.json() == {"error": "this key reads only customer 'acme-corp', not 'globex'"}

    own = dashboard.api.get("/v1/dashboard/overview", params=API_QUERY, headers=dashboard.acme).json()
    assert [row["customer"] for row in own["top_customers"]] == ["acme-corp"]
    page = open_dashboard(chromium, dashboard, dashboard.acme, PAGE_QUERY + "&customer=globex", "desktop")
    expect(page.locator("#error")).to_have_text("this key reads only customer 'acme-corp', not 'globex'")
    page.close()
    page = open_dashboard(chromium, dashboard, dashboard.acme, PAGE_QUERY, "desktop")
    figures_settled(page, own["total"])
    assert page.locator("#who").inner_text() == "customer acme-corp"
    expect(page.locator("#top-customers tbody td:first-child")).to_have_text(["acme-corp"])
    assert set(page.locator("#top-agents tbody td:first-child").all_inner_texts()) == {"acme-corp"}
    assert "globex" not in page.content()
    page.screenshot(path=shots / "overview-customer-portal.png", full_page=True)
    page.close()


def test_a_new_event_appears_without_a_reload(dashboard: Dashboard, chromium: Browser, shots: Path) -> None:
    now = datetime.now(UTC)
    today = now.date().isoformat()
    page = open_dashboard(
        chromium, dashboard, dashboard.admin, f"from={today}&to={today}&window=60", "desktop"
    )
    figures_settled(page, "0")
    event = {
        "kind": "tool", "event_id": "live-1", "occurred_at": now.isoformat(), "customer_id": "acme-corp",
        "agent_id": "support-bot", "tool": "tavily-search", "calls": 3,
    }  # fmt: skip
    assert dashboard.api.post("/v1/events", json=[event], headers=dashboard.admin).status_code == 202
    deadline = time.monotonic() + 30  # a bounded wait: the page polls, it is never reloaded
    while page.locator('[data-figure="total"]').get_attribute("data-exact") == "0":
        assert time.monotonic() < deadline, "the new event did not appear within 30 s"
        page.wait_for_timeout(200)
    api = dashboard.api.get(
        "/v1/dashboard/overview",
        params={
            "from": f"{today}T00:00:00Z",
            "to": (now + timedelta(days=1)).date().isoformat() + "T00:00:00Z",
            "window": 60,
        },
        headers=dashboard.admin,
    ).json()
    assert Decimal(api["total"]) > 0
    assert page.locator('[data-figure="total"]').inner_text() == on_screen(api["total"])
    page.screenshot(path=shots / "overview-live.png", full_page=True)
    page.close()


def test_dead_letters_are_counted_by_code_with_samples_and_kept_to_their_customer(
    dashboard: Dashboard, chromium: Browser, shots: Path
) -> None:
    every = dashboard.api.get("/v1/dashboard/dead-letters", headers=dashboard.admin).json()
    by_code = {(c["code"], c["letters"]) for c in every["codes"]}
    assert by_code == {("malformed_json", 1), ("empty_message", 1)}
    page = open_dashboard(chromium, dashboard, dashboard.admin, "", "desktop")
    page.click("text=Dead letters")
    codes = page.locator("#dead-letter-codes tbody td:first-child")
    expect(codes).to_have_count(2)
    assert sorted(codes.all_inner_texts()) == ["empty_message", "malformed_json"]
    page.screenshot(path=shots / "dead-letters.png", full_page=True)
    page.close()

    own = dashboard.api.get("/v1/dashboard/dead-letters", headers=dashboard.acme).json()
    assert [(c["code"], c["letters"]) for c in own["codes"]] == [("malformed_json", 1)]
    assert [s["message_key"] for s in own["codes"][0]["samples"]] == ["acme-corp"]
    other = dashboard.api.get(
        "/v1/dashboard/dead-letters", params={"customer": "globex"}, headers=dashboard.acme
    )
    assert other.status_code == 403


def test_the_customer_view_prints_the_draft_invoice_the_cli_renders(
    dashboard: Dashboard, chromium: Browser, shots: Path
) -> None:
    cli = invoice_document(
        invoice_for(BillingContext.load(dashboard.pipeline.db), "acme-corp", Period(2026, 11))
    )
    api = dashboard.api.get(
        "/v1/dashboard/customer", params={"month": "2026-11"}, headers=dashboard.acme
    ).json()
    assert api["invoice"] == cli

    page = open_dashboard(chromium, dashboard, dashboard.acme, PAGE_QUERY + "#customer", "desktop")
    total = page.locator('[data-figure="invoice.total"]')
    expect(total).to_have_text(on_screen(cli["total"]))
    amounts = page.locator('#invoice [data-figure="amount"]').all_inner_texts()
    assert amounts == [on_screen(line["amount"]) for line in cli["lines"]]
    expect(page.locator("#customer-filter")).to_be_hidden()
    page.screenshot(path=shots / "customer.png", full_page=True)
    page.close()

    other = dashboard.api.get(
        "/v1/dashboard/customer", params={"month": "2026-11", "customer": "globex"}, headers=dashboard.acme
    )
    assert other.status_code == 403
    unsubscribed = dashboard.api.get(
        "/v1/dashboard/customer",
        params={"month": "2026-10", "customer": "acme-corp"},
        headers=dashboard.admin,
    )
    assert unsubscribed.status_code == 400
    assert unsubscribed.json() == {"error": "customer 'acme-corp' has no subscription in 2026-10"}


def month_spend(dashboard: Dashboard, customer: str) -> Decimal:
    overview = dashboard.api.get(
        "/v1/dashboard/overview", params={**API_QUERY, "customer": customer}, headers=dashboard.admin
    ).json()
    return Decimal(overview["spend"]["month"])


def test_the_customer_view_draws_each_budget_burning_against_its_line_with_alerts_and_margin(
    dashboard: Dashboard, chromium: Browser, shots: Path
) -> None:
    dashboard.pipeline.wait_for("SELECT count() > 0 FROM alerts FINAL WHERE customer_id = 'acme-corp'", 1)
    params = {"month": "2026-11", "at": SAMPLE_DAY}
    api = dashboard.api.get("/v1/dashboard/customer", params=params, headers=dashboard.acme).json()
    monthly = next(b for b in api["budgets"] if b["budget_id"] == "acme-month")
    # Spend so far is the month's spend on the overview; the projection is spend ÷ elapsed share.
    spent = month_spend(dashboard, "acme-corp")
    assert Decimal(monthly["spent"]) == spent > Decimal(100)
    elapsed = Decimal(19 * 86_400 + 86_399)  # 2026-11-01 to the last second of the 20th
    assert Decimal(monthly["projected"]) == (spent * 30 * 86_400 / elapsed).quantize(Decimal("1e-12"))
    daily = next(b for b in api["budgets"] if b["budget_id"] == "acme-research-day")
    assert daily["scope"] == "acme-corp/agent=research-agent" and Decimal(daily["spent"]) > 40
    # "As of" the 20th is its last second: 86,399 of the day's 86,400 have elapsed.
    expected = Decimal(daily["spent"]) * 86_400 / 86_399
    assert Decimal(daily["projected"]) == expected.quantize(Decimal("1e-12"))
    assert {a["customer"] for a in api["alerts"]} == {"acme-corp"} and api["alerts"]
    november = next(m for m in api["margins"] if m["month"] == "2026-11")
    assert Decimal(november["revenue"]) == Decimal(api["invoice"]["total"])
    assert Decimal(november["margin"]) == Decimal(november["revenue"]) - spent

    for viewport in VIEWPORTS:
        page = open_dashboard(chromium, dashboard, dashboard.acme, PAGE_QUERY + "#customer", viewport)
        block = page.locator('[data-budget="acme-month"]')
        expect(block.locator('[data-figure="spent"]')).to_have_text(on_screen(monthly["spent"]))
        expect(block.locator('[data-figure="projected"]')).to_have_text(on_screen(monthly["projected"]))
        expect(block.locator(".chart")).to_have_attribute("data-series", "2")  # spend and projection
        expect(page.locator("#customer-alerts tbody tr")).to_have_count(len(api["alerts"]))
        margins = page.locator('#margins [data-figure="margin"]').all_inner_texts()
        assert margins == [on_screen(m["margin"]) for m in api["margins"]]
        page.screenshot(path=shots / f"customer-{viewport}.png", full_page=True)
        page.close()


def test_the_agents_view_prints_the_economics_the_cli_and_api_print(
    dashboard: Dashboard, chromium: Browser, shots: Path
) -> None:
    economics = dashboard.api.get(
        "/v1/economics", params={"period": "2026-11", "by": "agent"}, headers=dashboard.admin
    ).json()
    api = dashboard.api.get(
        "/v1/dashboard/agents", params={"month": "2026-11"}, headers=dashboard.admin
    ).json()
    expected = {(r["customer_id"], r["agent_id"]): r for r in economics["rows"] if r["agent_id"]}
    assert {(a["customer"], a["agent"]) for a in api["agents"]} == set(expected)
    for agent in api["agents"]:
        same = expected[agent["customer"], agent["agent"]]
        assert (agent["tasks"], agent["successful_tasks"]) == (same["tasks"], same["successful_tasks"])
        assert Decimal(agent["cost_per_successful_task"]) == Decimal(same["cost_per_successful_task"])
        assert Decimal(agent["cost"]) == Decimal(same["cost"])
        # The layers (from the windows) add up to the ledger's cost; outcomes declared value.
        assert sum(Decimal(c) for c in agent["layers"].values()) == Decimal(agent["cost"])
        declared = dashboard.pipeline.rows(
            "SELECT sum(ifNull(outcome_value, 0)) FROM ledger FINAL WHERE customer_id = {c:String} "
            "AND agent_id = {a:String}",
            c=agent["customer"],
            a=agent["agent"],
        )[0][0]
        assert Decimal(agent["value"]) == declared
    extractor = next(a for a in api["agents"] if a["agent"] == "invoice-extractor")
    assert Decimal(extractor["value"]) > Decimal(extractor["cost"]) > 0  # it pays for itself

    for viewport in VIEWPORTS:
        page = open_dashboard(chromium, dashboard, dashboard.admin, PAGE_QUERY + "#agents", viewport)
        printed = page.locator('#agent-table [data-figure="cost_per_successful_task"]')
        expect(printed).to_have_count(len(api["agents"]))
        assert printed.all_inner_texts() == [on_screen(a["cost_per_successful_task"]) for a in api["agents"]]
        expect(page.locator("#layer-chart")).to_have_attribute("data-series", str(len(api["layers"])))
        page.screenshot(path=shots / f"agents-{viewport}.png", full_page=True)
        page.close()

    own = dashboard.api.get(
        "/v1/dashboard/agents", params={"month": "2026-11"}, headers=dashboard.acme
    ).json()
    assert {a["customer"] for a in own["agents"]} == {"acme-corp"}
    assert all("revenue" not in a and "margin" not in a for a in own["agents"])  # the operator's business
    other = dashboard.api.get(
        "/v1/dashboard/agents", params={"month": "2026-11", "customer": "globex"}, headers=dashboard.acme
    )
    assert other.status_code == 403
    page = open_dashboard(chromium, dashboard, dashboard.acme, PAGE_QUERY + "#agents", "desktop")
    expect(page.locator("#agent-table tbody tr")).to_have_count(len(own["agents"]))
    assert "globex" not in page.content()
    page.close()


def test_the_alerts_view_shows_each_alert_with_its_contributors_and_the_events_behind_it(
    dashboard: Dashboard, chromium: Browser, shots: Path
) -> None:
    dashboard.pipeline.wait_for("SELECT count() > 0 FROM alerts FINAL WHERE customer_id = 'acme-corp'", 1)
    params = {"from": API_QUERY["from"], "to": API_QUERY["to"]}
    api = dashboard.api.get("/v1/dashboard/alerts", params=params, headers=dashboard.admin).json()
    assert api["alerts"]
    first = api["alerts"][0]
    assert first["events"].startswith("/v1/costs?customer=")
    behind = dashboard.api.get(first["events"], headers=dashboard.admin)
    assert behind.status_code == 200 and behind.json()["data"]

    for viewport in VIEWPORTS:
        page = open_dashboard(chromium, dashboard, dashboard.admin, PAGE_QUERY + "#alerts", viewport)
        expect(page.locator("#alert-table tbody tr")).to_have_count(len(api["alerts"]))
        expect(page.locator("#alert-chart")).to_have_attribute("data-series", "2")  # firing, resolved
        page.locator("#alert-table tbody tr").first.get_by_role("link", name="events").press("Enter")
        expect(page.locator("#alert-events")).to_contain_text(f"GET {first['events']}")
        page.screenshot(path=shots / f"alerts-{viewport}.png", full_page=True)
        page.close()

    own = dashboard.api.get("/v1/dashboard/alerts", params=params, headers=dashboard.acme).json()
    assert {a["customer"] for a in own["alerts"]} == {"acme-corp"}
    other = dashboard.api.get(
        "/v1/dashboard/alerts", params={**params, "customer": "globex"}, headers=dashboard.acme
    )
    assert other.status_code == 403


def test_costs_by_model_come_from_the_daily_rollup_and_equal_the_ledger(
    dashboard: Dashboard, chromium: Browser, shots: Path
) -> None:
    ledger = dict(
        dashboard.pipeline.rows(
            "SELECT sku, sum(cost) FROM ledger FINAL WHERE kind = 'llm' GROUP BY sku HAVING sum(cost) > 0"
        )
    )
    by_model = dashboard.api.get(
        "/v1/dashboard/overview",
        params={**API_QUERY, "group": "model", "category": "llm"},
        headers=dashboard.admin,
    ).json()
    assert by_model["window"] == 86_400
    shown = {s["name"]: Decimal(s["points"][0][1]) for s in by_model["series"] if Decimal(s["points"][0][1])}
    assert shown == ledger
    model = max(ledger, key=lambda sku: ledger[sku])
    one = dashboard.api.get(
        "/v1/dashboard/overview", params={**API_QUERY, "model": model}, headers=dashboard.admin
    ).json()
    assert Decimal(one["total"]) == Decimal(one["spend"]["today"]) == ledger[model]
    with_agent = dashboard.api.get(
        "/v1/dashboard/overview",
        params={**API_QUERY, "model": model, "agent": "support-bot"},
        headers=dashboard.admin,
    )
    assert with_agent.status_code == 400

    page = open_dashboard(
        chromium, dashboard, dashboard.admin, f"{PAGE_QUERY}&group=model&category=llm", "desktop"
    )
    figures_settled(page, by_model["total"])
    expect(page.locator("#chart")).to_have_attribute("data-series", str(len(by_model["series"])))
    expect(page.locator("#by-model")).to_be_visible()
    page.screenshot(path=shots / "overview-by-model.png", full_page=True)
    page.close()


def test_every_view_is_reached_from_the_keyboard_and_fits_a_phone(
    dashboard: Dashboard, chromium: Browser, shots: Path
) -> None:
    page = open_dashboard(chromium, dashboard, dashboard.acme, PAGE_QUERY, "phone")
    for name, section in [("Customer", "customer"), ("Agents", "agents"), ("Alerts", "alerts"),
                          ("Dead letters", "dead-letters"), ("Overview", "overview")]:  # fmt: skip
        page.get_by_role("link", name=name, exact=True).focus()
        page.keyboard.press("Enter")
        expect(page.locator(f"#{section}")).to_be_visible()
        expect(page.locator(f'nav a[href="#{section}"]')).to_have_attribute("aria-current", "page")
        expect(page.locator("#status")).to_contain_text("Live: updated")
        # Readable at 390 px: the page itself never scrolls sideways (wide tables scroll in place).
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS["phone"]["width"]
        page.screenshot(path=shots / f"{section}-phone.png", full_page=True)
    page.close()


def test_the_overview_in_parts_is_the_overview_whole(dashboard: Dashboard) -> None:
    def part(parts: str) -> dict[str, object]:
        asked = {**API_QUERY, "parts": parts}
        answer: dict[str, object] = dashboard.api.get(
            "/v1/dashboard/overview", params=asked, headers=dashboard.admin
        ).json()
        return answer

    whole, figures, tops = part("all"), part("figures"), part("tops")
    assert "top_customers" not in figures and "series" not in tops
    assert {**figures, **tops} == whole
