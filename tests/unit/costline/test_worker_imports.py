"""``costline worker`` loads the worker and not the read side: a restarted worker's start is its imports."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from costline import cli, kafka
from costline.config import get_settings
from streams import fetch_wait, offset_commits
from streams.garbage_collection import THRESHOLDS

# What `costline worker` imports before Faust starts: the command line, then cmd_worker's modules.
_SCRIPT = """
import sys
from costline import cli
cli.build_parser().parse_args(["worker"])
import costline.kafka, streams.fetch_wait, streams.offset_commits, streams.agents, streams.garbage_collection
print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in ("billing", "schemas"))))
"""


def test_the_worker_command_loads_no_billing_module_nor_the_billing_schemas() -> None:
    shown = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True)
    loaded = shown.stdout.split()
    assert "schemas.events" in loaded  # the worker's own, as a check that the script ran it
    assert [m for m in loaded if m.split(".")[0] == "billing"] == []
    assert "schemas.plans" not in loaded
    assert "schemas.meters" not in loaded


def test_the_argument_types_still_check_with_billing_rules() -> None:
    # The checks load billing when a value is parsed; the parsed values are the same as before.
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "from costline import cli\n"
            "a = cli.build_parser().parse_args(['economics', '--period', '2026-11'])\n"
            "print(repr(a.period), repr(a.infra_cost_per_hour))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.split() == ["'2026-11'", "Decimal('0')"]


@pytest.fixture
def collector_as_it_was() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("collector_as_it_was")
def test_the_worker_command_collects_rarely_before_its_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.app import app

    seen: list[Any] = []

    async def round_trip(settings: object) -> None:
        seen.append(gc.get_threshold())

    gc.set_threshold(700, 10, 10)
    monkeypatch.setattr(kafka, "ensure_topics", round_trip)
    monkeypatch.setattr(offset_commits, "seed_committed_offsets", round_trip)
    monkeypatch.setattr(offset_commits, "install", lambda topics: None)
    monkeypatch.setattr(fetch_wait, "install", lambda: None)
    monkeypatch.setattr(app, "main", lambda: seen.append(("main", gc.get_freeze_count() > 0)))
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    parsed = cli.build_parser().parse_args(["worker"])

    assert cli.cmd_worker(parsed, get_settings()) == 0
    # The thresholds are the worker's from the first round trip on (the imports come after), and
    # everything there is when Faust starts is frozen, as before.
    assert seen == [THRESHOLDS, THRESHOLDS, ("main", True)]
