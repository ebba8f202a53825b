"""Watching a table fill up: the rates a run reports, each counting only work inside its interval."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from costline.dev.harness import Pipeline


@dataclass
class Counting:
    """Polls ``count`` from ``started`` until it reaches ``target``.

    Two rates come out, both honest: ``rate`` is every event over the whole
    interval from ``started`` (a cold start included), ``steady_rate`` the
    events counted after the first poll that saw any, over the time since
    that poll (startup and the first batch left out of both the count and the
    time). The same rule applies to Costline and to each peer.
    """

    target: int
    started: float
    counted_at_start: int = 0
    first_at: float | None = None
    counted_at_first: int = 0
    done_at: float = 0.0

    def poll(self, count: Callable[[], int], check: Callable[[], None], timeout: float = 1800) -> None:
        while True:
            counted = count()
            now = time.perf_counter()
            if counted > self.counted_at_start and self.first_at is None:
                self.first_at, self.counted_at_first = now, counted
            if counted >= self.target:
                self.done_at = now
                return
            check()
            if now - self.started > timeout:
                raise TimeoutError(f"{counted} of {self.target} counted after {timeout:.0f}s")
            time.sleep(0.1)

    @property
    def rate(self) -> float:
        return (self.target - self.counted_at_start) / max(self.done_at - self.started, 1e-9)

    @property
    def steady_rate(self) -> float:
        if self.first_at is None or self.done_at <= self.first_at:
            return 0.0
        return (self.target - self.counted_at_first) / (self.done_at - self.first_at)


def until_counted(p: Pipeline, watch: Counting, check: Callable[[], None]) -> None:
    """Until the ledger holds ``watch.target`` events, then the hourly windows of all agents too
    (they land just after their batch's ledger rows); ``check`` raises if the run went wrong."""
    watch.poll(lambda: int(p.scalar("SELECT count() FROM ledger")), check, timeout=3600)
    p.wait_for(
        "SELECT sum(events) FROM cost_windows FINAL WHERE agent_id = '*' AND window_size = 3600",
        watch.target,
        timeout=600,
    )
