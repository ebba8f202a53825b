"""A restarted worker takes its SIGKILLed predecessor out of the consumer group at once.

A worker killed without a goodbye stays a member of the group until its
session times out (``session_timeout_s``, 10 s), and until then the group
cannot rebalance: its successor waited ~7 s for its first partition, the
largest part of a restart. So each worker records its member id in its data
directory after every assignment, and a starting worker that finds the
record of a process that no longer runs sends the LeaveGroup that process
never sent; the rebalance then goes ahead at once.

A record whose process still runs as a worker is left alone (workers may
share a data directory). A stale record (the member left or timed out
already) gets an error answer, which is logged and ignored: the worst case is
waiting for the session timeout, as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.group import LeaveGroupRequest
from faust.types import TP

from costline.config import Settings
from costline.kafka_auth import client_security
from streams.app import app, settings

log = logging.getLogger(__name__)

RECORDS = "group-members"
_STARTED = time.time()  # records of this pid written before this are of an earlier process


def record_member(datadir: Path, group: str, member_id: str, pid: int | None = None) -> None:
    directory = datadir / RECORDS
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{pid or os.getpid()}.member"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(f"{group}\n{member_id}\n")
    temporary.replace(path)  # a reader never sees half a record


def _runs_a_worker(pid: int, written_at: float) -> bool:
    if pid == os.getpid():
        return written_at >= _STARTED  # else an earlier process had this pid (a container restart)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: alive or not, leave it alone
        return True
    # Empty while the process execs: too early to tell, so leave it alone.
    return not cmdline or b"costline.cli" in cmdline or b"costline" in cmdline


def dead_members(datadir: Path, group: str) -> list[tuple[Path, int, str]]:
    """(record, pid, member id) of this group's members whose process no longer runs."""
    found = []
    for path in sorted((datadir / RECORDS).glob("*.member")):
        try:
            pid = int(path.stem)
            written_at = path.stat().st_mtime
            record_group, member_id = path.read_text().split("\n")[:2]
        except (OSError, ValueError):
            continue
        if record_group == group and member_id and not _runs_a_worker(pid, written_at):
            found.append((path, pid, member_id))
    return found


async def leave_for_dead_members(
    settings: Settings, group: str, datadir: Path, say: Callable[[str], None] = log.info
) -> int:
    """Send each dead member's LeaveGroup; returns how many the coordinator took out."""
    dead = dead_members(datadir, group)
    if not dead:
        return 0
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **client_security(settings))
    await admin.start()
    removed = 0
    try:
        coordinator = await admin.find_coordinator(group)
        for path, pid, member_id in dead:
            # No public API sends a LeaveGroup for another member; this is the request a
            # consumer sends itself when it closes.
            answer: Any = await admin._send_request_to_node(coordinator, LeaveGroupRequest(group, member_id))
            if answer.error_code == 0:
                removed += 1
                say(f"group {group}: took out member {member_id} of pid {pid}, which no longer "
                    "runs, so the rebalance need not wait for its session to time out")  # fmt: skip
            else:
                say(f"group {group}: member {member_id} of pid {pid} had left already "
                    f"(code {answer.error_code})")  # fmt: skip
            path.unlink(missing_ok=True)
    finally:
        await admin.close()
    return removed


def _member_id() -> str | None:
    """This worker's member id (faust reads its generation the same way)."""
    try:
        consumer: Any = app.consumer
        return str(consumer._thread._ensure_consumer()._coordinator.member_id)
    except AttributeError:
        return None


@app.on_worker_init.connect  # type: ignore[arg-type]
def leave_for_killed_predecessors(sender: Any, **kwargs: Any) -> None:
    """Before the worker starts (no event loop runs yet): it joins the group right after."""

    def say(text: str) -> None:
        # Faust has not set up logging yet; the worker's output is its log.
        print(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] [{os.getpid()}] [INFO] {text}", file=sys.stderr)

    group, datadir = app.conf.id, settings.worker_data_dir
    try:
        leave = leave_for_dead_members(settings, group, datadir, say)
        asyncio.run(asyncio.wait_for(leave, timeout=10))
    except Exception as exc:  # only a faster start is at stake
        say(f"could not take killed workers out of the group ({exc!r}); the rebalance waits "
            "for their sessions to time out")  # fmt: skip


@app.on_partitions_assigned.connect  # type: ignore[arg-type]
async def remember_member_id(sender: Any, assigned: set[TP], **kwargs: Any) -> None:
    member_id = _member_id()
    if member_id:
        record_member(settings.worker_data_dir, app.conf.id, member_id)
