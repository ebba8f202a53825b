"""A TLS front for the local ClickHouse server: HTTPS in, the engine's plain HTTP behind.

The chdb-core engine starts only TCP and HTTP listeners ("SYSTEM START LISTEN in
clickhouse-local supports only TCP and HTTP listeners"), so tests of
ClickHouse over HTTPS need TLS terminated in front of it. The front runs on a
daemon thread of the server's own process: it lives and dies with the engine.
Clients see what a real ClickHouse HTTPS port gives them: a certificate to
verify, then the HTTP interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from pathlib import Path

CHUNK = 64 * 1024


def start_in_thread(port: int, cert_file: Path, key_file: Path, backend_port: int) -> threading.Thread:
    """Serve TLS on ``port`` (loopback), forwarding each connection to ``backend_port``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    listening = threading.Event()

    async def serve() -> None:
        server = await asyncio.start_server(
            lambda r, w: _forward(r, w, backend_port), "127.0.0.1", port, ssl=context
        )
        listening.set()
        async with server:
            await server.serve_forever()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="tls-front", daemon=True)
    thread.start()
    if not listening.wait(10):
        raise RuntimeError(f"the TLS front did not listen on port {port}")
    return thread


async def _forward(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, backend_port: int) -> None:
    try:
        backend_r, backend_w = await asyncio.open_connection("127.0.0.1", backend_port)
    except OSError:
        client_w.close()
        return
    await asyncio.gather(_pipe(client_r, backend_w), _pipe(backend_r, client_w))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # A peer that resets or fails its TLS handshake ends this connection only.
    with contextlib.suppress(OSError, ssl.SSLError, ConnectionError):
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(OSError, ssl.SSLError, ConnectionError, RuntimeError):
        writer.close()
