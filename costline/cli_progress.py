"""The progress bar long exports draw on stderr: ``rows written / total`` on one redrawn line."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import TextIO, TypeVar

T = TypeVar("T")


class ProgressBar:
    """Redrawn every ``every`` rows and once at the end; silent unless ``enabled``."""

    WIDTH = 30

    def __init__(self, enabled: bool, stream: TextIO | None = None, every: int = 5_000) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.every = every
        self.total = 0
        self.label = ""
        self.written = 0

    def counted(self, rows: Sequence[T], label: str) -> Iterator[T]:
        """``rows`` as they are written; the bar knows their number before the first one."""
        self.total, self.label = len(rows), label
        return self._count(rows)

    def _count(self, rows: Sequence[T]) -> Iterator[T]:
        for row in rows:
            yield row
            self.written += 1
            if self.enabled and self.written % self.every == 0:
                self._draw()

    def done(self) -> None:
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        filled = self.WIDTH * self.written // self.total if self.total else self.WIDTH
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\rexporting {self.label} [{bar}] {self.written:,}/{self.total:,} rows")
        self.stream.flush()
