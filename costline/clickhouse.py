"""ClickHouse clients from settings: one place that knows URLs and DSNs."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver import options as clickhouse_options
from clickhouse_connect.driver.asyncclient import AsyncClient
from clickhouse_connect.driver.client import Client

from costline.config import Settings

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def _server(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    return parts.hostname or "127.0.0.1", parts.port or (8443 if secure else 8123), secure


def _connection(settings: Settings) -> dict[str, Any]:
    """Where and as whom: the arguments every server client (sync or async) is opened with.

    Over https the server's certificate is verified against the CA file (or the
    system's bundle) unless verification is explicitly turned off.
    """
    host, port, secure = _server(settings.clickhouse_url)
    args: dict[str, Any] = {
        "host": host,
        "port": port,
        "secure": secure,
        "username": settings.clickhouse_user,
        "password": settings.clickhouse_secret.get_secret_value(),
    }
    if secure:
        args["verify"] = settings.clickhouse_verify
        if settings.clickhouse_ca_file is not None:
            args["ca_cert"] = str(settings.clickhouse_ca_file)
    return args


def is_embedded(settings: Settings) -> bool:
    return settings.clickhouse_url.startswith("chdb:")


def open_client(settings: Settings, database: str | None = None, wait_s: float | None = None) -> Client:
    """A sync client on the configured database (``database=''`` for none).

    ``wait_s``: how long a statement's answer is waited for (the client's own
    default is 300 s, which a merge of 100M rows outlasts); ``None`` keeps it.
    """
    db = settings.clickhouse_database if database is None else database
    if is_embedded(settings):
        return clickhouse_connect.get_client(dsn=settings.clickhouse_url, database=db or None)
    waits: dict[str, Any] = {} if wait_s is None else {"send_receive_timeout": wait_s}
    return clickhouse_connect.get_client(
        **_connection(settings),
        **waits,
        database=db or None,
        # Parameters are bound server-side, never formatted into SQL text.
        settings={"date_time_input_format": "best_effort"},
    )


async def open_async_client(settings: Settings) -> AsyncClient:
    if is_embedded(settings):
        raise RuntimeError(
            "the worker needs a ClickHouse server; the embedded chdb:// engine is sync and "
            "single-process (start one with `costline services up`)"
        )
    client = await clickhouse_connect.get_async_client(
        **_connection(settings),
        database=settings.clickhouse_database,
        connect_timeout=min(10.0, settings.clickhouse_timeout_s),
        send_receive_timeout=settings.clickhouse_timeout_s,
    )
    _without_dataframes()
    return client


def _without_dataframes() -> None:
    """Tell clickhouse-connect this process has no pandas, unless something here imported it.

    The client imports pandas (chdb-core brings it, with pyarrow) on its first insert, only to
    ask whether the rows are a DataFrame; our writers send lists and Native bodies, never frames.
    The import cost every worker start 0.5-1.3 s of CPU before it could say it was ready.
    """
    if "pandas" not in sys.modules:
        clickhouse_options.pd = None
        clickhouse_options.pd_time_test = None


def as_utc(value: datetime) -> datetime:
    """A DateTime64 column's value, which the client may hand back naive, as aware UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_query(name: str) -> str:
    """The text of ``sql/queries/<name>.sql``."""
    return (SQL_DIR / "queries" / f"{name}.sql").read_text()
