"""``costline api`` in a child process, for the demo: its environment, start (until it answers) and stop."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from costline.config import Settings


class ApiDidNotStart(RuntimeError):
    """The API exited or never answered /healthz; its log says why."""


def api_url(settings: Settings) -> str:
    return f"http://{settings.api_host}:{settings.api_port}"


def start(
    settings: Settings, env: Mapping[str, str], log_path: Path, timeout_s: float = 60
) -> subprocess.Popen[bytes]:
    """``costline api`` with ``env``, its output appended to ``log_path``, once /healthz answers."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:  # the child keeps its own handle
        api = subprocess.Popen(
            [sys.executable, "-m", "costline.cli", "api"], env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + timeout_s
    while not _healthy(api_url(settings)):
        if api.poll() is not None or time.monotonic() > deadline:
            stop(api)
            raise ApiDidNotStart(f"costline api did not start on {api_url(settings)}; see {log_path}")
        time.sleep(0.2)
    return api


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def stop(api: subprocess.Popen[bytes], timeout_s: float = 15) -> None:
    """SIGTERM (uvicorn shuts down cleanly on it) and reap; killed if still there after ``timeout_s``."""
    if api.poll() is not None:
        return
    api.terminate()
    try:
        api.wait(timeout_s)
    except subprocess.TimeoutExpired:
        api.kill()
        api.wait()
