"""``costline worker`` loads the worker and not the read side: a restarted worker's start is its imports."""

from __future__ import annotations

import subprocess
import sys

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
