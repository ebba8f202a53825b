"""The worker's /healthz, /readyz and /metrics through the real broker and ClickHouse."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from costline.dev.harness import Pipeline
from tests.factories import encoded, event


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    _, text = get(f"{url}/metrics")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_what_the_worker_counted_and_dead_lettered(pipeline: Pipeline) -> None:
    url = pipeline.web_url()
    assert get(f"{url}/healthz") == (200, "ok\n")
    pipeline.wait_until_ready()

    good = [event(f"metered-{i}") for i in range(12)]
    # Between the good events: a message that is not JSON, and acme's event under another key.
    pipeline.publish(good, raw=[(b"acme", b"{not json"), (b"someone-else", encoded("wrong-key"))])
    pipeline.wait_until_counted(len(good))
    pipeline.dead_letters(count=2)

    # The batch is counted in ClickHouse before its metrics are updated: wait for them, briefly.
    deadline = time.monotonic() + 30
    while True:
        seen = samples(url)
        if (
            seen.get(("costline_worker_events_counted_total", ()), 0) >= len(good)
            or time.monotonic() > deadline
        ):
            break
        time.sleep(0.2)
    assert seen[("costline_worker_events_counted_total", ())] == len(good)
    assert seen[("costline_worker_dead_letters_total", (("code", "malformed_json"),))] == 1
    assert seen[("costline_worker_dead_letters_total", (("code", "wrong_key"),))] == 1
    assert seen[("costline_worker_dead_letters_total", (("code", "unstorable"),))] == 0
    assert seen[("costline_worker_events_total", ())] == len(good) + 2
    assert seen[("costline_worker_batch_seconds_count", ())] >= 1
    assert seen[("costline_worker_ready", ())] == 1
    assert get(f"{url}/readyz") == (200, "ready\n")
