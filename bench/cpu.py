"""CPU seconds of processes over a timed interval, from /proc/<pid>/stat (utime + stime)."""

from __future__ import annotations

import os
import time
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


def machine_ticks(stat: str) -> tuple[int, int]:
    """(busy, total) clock ticks of all cores so far, from the text of /proc/stat.

    Idle is idle plus iowait; busy is the rest (steal included: another guest had the core).
    """
    ticks = [int(field) for field in stat.splitlines()[0].split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return sum(ticks) - idle, sum(ticks)


def machine_snapshot() -> tuple[int, int]:
    return machine_ticks(Path("/proc/stat").read_text())


def busy_fraction(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of the machine's cores busy between the snapshots, whoever used them (the box is shared)."""
    return (after[0] - before[0]) / max(after[1] - before[1], 1)


def python_reference_s(iterations: int = 5_000_000) -> float:
    """Process CPU seconds of a fixed pure-Python loop, the best of three.

    Not a figure of Costline's: it says how fast this machine runs Python today, so
    that runs on different days (or machines) can be read side by side. The worker's
    CPU per event scales with it, roughly; Kafka's and ClickHouse's less so.
    """
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        total = 0
        for i in range(iterations):
            total += i & 7
        best = min(best, time.process_time() - start)
    return best
