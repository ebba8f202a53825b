"""Serving the app with uvicorn: in the foreground for ``costline api``, in a thread for tests and benches.

uvicorn picks uvloop and httptools where they are installed (pinned in
pyproject.toml): under ``bench/http_ingest.py`` they took the event loop's
and the HTTP parsing's share of a request from ~15 % to a few.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from costline.api.app import create_app
from costline.api.metrics import MULTIPROCESS_DIR
from costline.config import Settings


class StartFailed(RuntimeError):
    """The API did not start (Kafka unreachable, the port taken); uvicorn logged why."""


def server(
    settings: Settings, host: str, port: int, log_level: str = "info", serving: bool = True
) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings, serving=serving),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,  # /metrics counts requests; a line per request costs more than the request
        lifespan="on",
    )
    return uvicorn.Server(config)


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Until interrupted; raises StartFailed if it never started."""
    if workers > 1:
        # Each process counts in files here, and /metrics sums them (costline.api.metrics); a
        # fresh directory, so counts start at zero as a single process's do.
        shared = settings.home / "run" / f"api-metrics-{port}"
        shutil.rmtree(shared, ignore_errors=True)
        shared.mkdir(parents=True)
        os.environ[MULTIPROCESS_DIR] = str(shared)
        os.environ["COSTLINE_API_GATE"] = "false"  # see Settings.api_gate
        uvicorn.run(
            "costline.api.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            lifespan="on",
        )
        return
    running = server(settings, host, port)
    running.run()  # with the loop uvicorn picks (uvloop), where asyncio.run would take the default
    if not running.started:
        raise StartFailed(f"the API did not start on {host}:{port}; see the log above")


@contextmanager
def in_thread(settings: Settings, port: int, timeout_s: float = 30) -> Iterator[str]:
    """The API on 127.0.0.1:``port`` in a thread; yields its base URL, stops it after."""
    running = server(settings, "127.0.0.1", port, log_level="warning", serving=False)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not running.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            running.should_exit = True
            raise StartFailed(f"the API did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout_s)
