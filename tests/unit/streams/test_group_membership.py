"""Which recorded group members a starting worker may take out of the group for a dead process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from streams.group_membership import dead_members, record_member

NO_SUCH_PID = 4_194_305  # above Linux's largest pid_max


def test_a_member_of_a_process_that_is_gone_is_dead(tmp_path: Path) -> None:
    record_member(tmp_path, "costline", "member-1", pid=NO_SUCH_PID)
    assert [(pid, member) for _, pid, member in dead_members(tmp_path, "costline")] == [
        (NO_SUCH_PID, "member-1")
    ]


def test_this_process_is_never_taken_for_dead(tmp_path: Path) -> None:
    record_member(tmp_path, "costline", "member-2", pid=os.getpid())
    assert dead_members(tmp_path, "costline") == []


def test_a_record_under_this_pid_from_before_this_process_started_is_dead(tmp_path: Path) -> None:
    record_member(tmp_path, "costline", "member-3", pid=os.getpid())
    record = tmp_path / "group-members" / f"{os.getpid()}.member"
    os.utime(record, (0, 0))  # written long ago: a process that had this pid before a restart
    assert [member for _, _, member in dead_members(tmp_path, "costline")] == ["member-3"]


def test_a_running_worker_and_other_groups_are_left_alone(tmp_path: Path) -> None:
    # Its command line names costline.cli, as a worker's does.
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "costline.cli"])
    cmdline = Path(f"/proc/{worker.pid}/cmdline")
    for _ in range(100):  # until the child has exec'd
        if b"costline.cli" in cmdline.read_bytes():
            break
        time.sleep(0.01)
    try:
        record_member(tmp_path, "costline", "alive", pid=worker.pid)
        record_member(tmp_path, "other-app", "elsewhere", pid=NO_SUCH_PID)
        assert dead_members(tmp_path, "costline") == []
    finally:
        worker.kill()
        worker.wait()
    assert [member for _, _, member in dead_members(tmp_path, "costline")] == ["alive"]


def test_the_newest_record_of_a_process_wins(tmp_path: Path) -> None:
    record_member(tmp_path, "costline", "first-join", pid=NO_SUCH_PID)
    record_member(tmp_path, "costline", "after-rebalance", pid=NO_SUCH_PID)
    assert [member for _, _, member in dead_members(tmp_path, "costline")] == ["after-rebalance"]
