"""The README's tables follow the enumerations they document."""

from __future__ import annotations

from pathlib import Path

from schemas.dead_letters import DeadLetterCode

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_dead_letter_table_lists_every_code_once() -> None:
    rows = [line for line in README.splitlines() if line.startswith("| `") and "|" in line[3:]]
    listed = [row.split("`")[1] for row in rows if row.split("`")[1] in set(DeadLetterCode)]
    assert sorted(listed) == sorted(DeadLetterCode)
