"""The dashboard over a year of history for many customers: its data request and the page.

``python -m bench.dashboard [--customers 1000] [--days 365] [--repeat 5]`` fills a database of
its own with 1-hour windows generated inside ClickHouse (``INSERT ... SELECT FROM numbers()``:
per customer and hour, two categories of one agent and their per-customer rollups), serves
``costline api`` in a thread, and times the Overview's data request (the page's default 30 days,
and the whole year) and, in Debian's headless Chromium, the page from navigation until its
figures are printed (interactive) and until its top tables, asked for second, are filled.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from playwright.sync_api import sync_playwright

from costline.api import key_store
from costline.api.keys import Scope
from costline.api.server import in_thread
from costline.clickhouse import open_client
from costline.config import get_settings
from costline.dev import browser
from costline.migrations import migrate

DATABASE = "costline_bench_dashboard"

# Costs are drawn from the row's own numbers, so a rerun writes the same windows.
FILL = """
INSERT INTO cost_windows
    (customer_id, window_size, window_start, agent_id, category, cost, events, quantity, version, updated_at)
SELECT
    concat('customer-', toString(intDiv(number, {rows_per_customer:UInt64}))) AS customer_id,
    3600,
    {start:DateTime('UTC')} + toIntervalHour(intDiv(number % {rows_per_customer:UInt64}, 4)),
    if(number % 4 < 2, 'agent-1', '*'),
    if(number % 2 = 0, 'llm', 'tool'),
    toDecimal128(((cityHash64(intDiv(number, 4) * 2 + number % 2) % 1000000) / 1e6), 12),
    1 + cityHash64(number) % 20,
    toDecimal128(1, 12),
    1,
    now64(3)
FROM numbers({rows:UInt64})
"""


def fill(customers: int, days: int, end: datetime) -> int:
    settings = get_settings().model_copy(update={"clickhouse_database": DATABASE})
    open_client(settings, database="").command(f"DROP DATABASE IF EXISTS {DATABASE}")
    migrate(settings, log=lambda _: None)
    rows_per_customer = days * 24 * 4
    start = end - timedelta(days=days)
    open_client(settings).command(
        FILL,
        parameters={
            "rows_per_customer": rows_per_customer,
            "start": start,
            "rows": customers * rows_per_customer,
        },
        settings={"max_execution_time": 3600},
    )
    return customers * rows_per_customer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _timed(client: httpx.Client, params: dict[str, str], headers: dict[str, str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get("/v1/dashboard/overview", params=params, headers=headers)
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = today + timedelta(days=1)
    started = time.perf_counter()
    rows = fill(args.customers, args.days, end)
    fill_s = time.perf_counter() - started
    print(f"filled {rows:,} window rows in {fill_s:.1f} s")

    settings = get_settings().model_copy(update={"clickhouse_database": DATABASE})
    _, key = key_store.create_key(open_client(settings), (Scope.READ,), None, name="bench")
    headers = {"Authorization": f"Bearer {key}"}
    month = {"from": (end - timedelta(days=30)).isoformat(), "to": end.isoformat()}
    year = {"from": (end - timedelta(days=args.days)).isoformat(), "to": end.isoformat()}
    with in_thread(settings, _free_port()) as url, httpx.Client(base_url=url, timeout=120) as client:
        _timed(client, month, headers, 1)  # the first request opens the key and read clients
        request_30d_s = _timed(client, month, headers, args.repeat)
        request_year_s = _timed(client, year, headers, args.repeat)
        request_customer_year_s = _timed(client, {**year, "customer": "customer-7"}, headers, args.repeat)
        interactive, complete = [], []
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(browser.ensure_chromium()), args=list(browser.FLAGS)
            )
            for _ in range(args.repeat):
                page = chromium.new_page(viewport={"width": 1280, "height": 800})
                page.goto(f"{url}/dashboard")
                page.evaluate("key => sessionStorage.setItem('costline.key', key)", key)
                page_started = time.perf_counter()
                page.reload()
                page.wait_for_function("document.querySelector('[data-figure=total]').dataset.exact")
                interactive.append(time.perf_counter() - page_started)
                # The rankings come in a second request: timed apart, so neither figure hides the other.
                page.wait_for_function("document.querySelector('#top-agents tbody tr')")
                complete.append(time.perf_counter() - page_started)
                page.close()
            chromium.close()
    result = {
        "bench": "dashboard",
        "customers": args.customers,
        "days": args.days,
        "window_rows": rows,
        "fill_s": round(fill_s, 1),
        "overview_request_30d_p50_s": round(request_30d_s, 3),
        "overview_request_year_p50_s": round(request_year_s, 3),
        "overview_request_one_customer_year_p50_s": round(request_customer_year_s, 3),
        "page_interactive_30d_p50_s": round(statistics.median(interactive), 3),
        "page_with_top_tables_30d_p50_s": round(statistics.median(complete), 3),
    }
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
