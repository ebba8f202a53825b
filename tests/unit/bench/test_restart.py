"""A restarted worker's start, split into phases from its log."""

from __future__ import annotations

import pytest

from bench.restart import start_phases

_LOG = """\
[2026-12-07 18:25:03] [21323] [INFO] group g: took out member m of pid 1, which no longer runs
[2026-12-07 18:25:03,500] [21323] [INFO] [^Worker]: Starting...
[2026-12-07 18:25:03,763] [21323] [INFO] [^---Conductor]: Waiting for tables to be registered...
[2026-12-07 18:25:04,178] [21323] [INFO] Joined group 'g' (generation 3) with member_id m
[2026-12-07 18:25:06,886] [21323] [INFO] restored 64427 changelog records of 8 partitions
[2026-12-07 18:25:06,889] [21323] [INFO] generation id 3 app consumers id 3
[2026-12-07 18:25:07,053] [21323] [INFO] [^Worker]: Ready
[2026-12-07 18:25:09,000] [21323] [INFO] Joined group 'g' (generation 5) with member_id m
"""


def test_a_restart_splits_into_imports_joining_restore_and_recovery() -> None:
    phases = start_phases(_LOG, ready_s=6.0)
    assert phases == pytest.approx(
        {
            "restart_before_faust_s": 6.0 - 3.553,
            "restart_to_joined_s": 0.678,
            "restart_restore_s": 2.711,
            "restart_recovery_s": 0.164,
        },
        abs=1e-6,
    )


def test_a_log_without_every_mark_gives_no_phases() -> None:
    assert start_phases(_LOG.replace("[^Worker]: Ready", "still restoring"), ready_s=6.0) == {}
