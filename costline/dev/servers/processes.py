"""Detached service processes tracked by pid files: what Kafka and ClickHouse share."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

# ``sh`` starts the service in the background and exits, so the service is
# re-parented away from the caller: it outlives ``costline services up`` and
# leaves the caller no child to reap.
_LAUNCHER = 'pidfile=$1; shift; "$@" & echo $! > "$pidfile"'


def keep_out_of_git(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    if not (home / ".gitignore").exists():
        (home / ".gitignore").write_text("*\n")


def launch_detached(
    command: Sequence[str], pidfile: Path, cwd: Path, log: Path, env: Mapping[str, str] | None = None
) -> None:
    with log.open("ab") as out:
        subprocess.run(
            ["sh", "-c", _LAUNCHER, "sh", str(pidfile), *command],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            check=True,
        )


def live_pid(pidfile: Path, marker: bytes, allow_blank_cmdline: bool = False) -> int | None:
    """The pid in ``pidfile`` if that process is alive and its command line has ``marker``.

    The command-line check ignores a pid reused by another program; a zombie
    counts as gone (pid 1 here may reap late). ``allow_blank_cmdline`` covers the
    moment while the launcher execs the service.
    """
    try:
        pid = int(pidfile.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    if stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]:
        return None
    ours = marker in cmdline or (allow_blank_cmdline and not cmdline)
    return pid if ours else None


def send_signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
