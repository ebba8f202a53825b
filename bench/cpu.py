"""CPU seconds of processes over a timed interval, from /proc/<pid>/stat (utime + stime)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of ``pid`` so far (its own, not its children's)."""
    # The command name (field 2) may hold spaces; count fields after its ')'.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def snapshot(pids: Mapping[str, list[int]]) -> dict[str, float]:
    """Each role's CPU seconds so far, summed over its processes."""
    return {role: sum(cpu_seconds(pid) for pid in group) for role, group in pids.items()}


def per_million(before: Mapping[str, float], after: Mapping[str, float], events: int) -> dict[str, float]:
    """``cpu_s_per_1m_<role>``: CPU seconds each role spent between the snapshots, per 1M events."""
    scale = 1_000_000 / max(events, 1)
    return {f"cpu_s_per_1m_{role}": (after[role] - before[role]) * scale for role in before}
