"""What the HTTP API's end-to-end tests share: a pipeline the API writes into, a client, keys."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from costline.api import key_store
from costline.api.keys import Scope
from costline.api.server import in_thread
from costline.config import Settings
from costline.dev.harness import Pipeline


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api_pipeline(services: Settings, name: str) -> Pipeline:
    """A pipeline with prices and a running worker; keys are looked up on every request, so a
    revocation shows at once, no waiting out the cache."""
    p = Pipeline.create(services, name, api_key_cache_s=0.0)
    p.load_prices()
    p.start_worker()
    return p


@contextmanager
def api_client(pipeline: Pipeline) -> Iterator[httpx.Client]:
    """``costline api`` for the pipeline, served in a thread, and a client of it."""
    with in_thread(pipeline.settings, free_port()) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def bearer(pipeline: Pipeline, customer: str | None, *scopes: Scope) -> dict[str, str]:
    _, secret = key_store.create_key(pipeline.db, scopes or (Scope.INGEST,), customer, name="test")
    return {"Authorization": f"Bearer {secret}"}
