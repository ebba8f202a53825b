"""A real ClickHouse HTTP server on loopback, backed by the ``chdb-core`` wheel.

No server binary can be fetched here, but chdb-core ships the whole engine. Only
its module-level ``_chdb.query(sql, fmt, path=...)`` has the callback that
``SYSTEM START LISTEN HTTP`` needs (``chdb.connect`` raises "start_servers_callback
is not set"), so a child process runs that and then a query that blocks reading a
FIFO: the server lives as long as that query, and a line written to the FIFO ends
it cleanly. The engine reads ``./config.xml``, hence the child's ``chdir``; the
format must be TabSeparated or clickhouse-connect's version probe fails. There is
no engine log (the file logger only works for a process's first engine, and
``import chdb`` starts one), so the child's stdout/stderr are kept instead.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import http.client
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from costline.dev.servers import tls_front
from costline.dev.servers.processes import keep_out_of_git, launch_detached, live_pid, send_signal

CONFIG = """<clickhouse>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{port}</http_port>
  <max_concurrent_queries>100</max_concurrent_queries>
  <max_server_memory_usage_to_ram_ratio>0.5</max_server_memory_usage_to_ram_ratio>
  <users_config>users.xml</users_config>
</clickhouse>
"""
# Without users_config, clickhouse-local ignores <users>/<profiles> in config.xml
# and admits the default user from any address. This engine defaults to
# async_insert=1; synchronous inserts make a batch durable when the call returns.
USERS = """<clickhouse>
  <profiles><default><async_insert>0</async_insert></default></profiles>
  <users><default><password/><profile>default</profile><quota>default</quota>
    <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <access_management>1</access_management></default></users>
  <quotas><default/></quotas>
</clickhouse>
"""
# For tests of secure transports: a user other than default, with a password (stored as its SHA-256).
USER = """<{name}><password_sha256_hex>{sha256}</password_sha256_hex><profile>default</profile>
    <quota>default</quota><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <access_management>1</access_management></{name}>"""


@dataclass(frozen=True)
class HttpsListener:
    """An HTTPS port, the server's certificate and key (PEM), and a user who logs in with a password."""

    port: int
    cert_file: Path
    key_file: Path
    user: str
    password: str = field(repr=False)


class ClickHouseServerError(RuntimeError):
    """Raised when the server cannot be started or stopped."""


@dataclass(frozen=True)
class ClickHouseServer:
    """A server whose data, config and logs all live under ``home`` (git-ignored)."""

    home: Path
    port: int = 18123
    https: HttpsListener | None = None
    # Under run/: a second server (for tests) keeps its data apart from the plain one's.
    name: str = "clickhouse"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def run_dir(self) -> Path:
        return self.home.resolve() / "run" / self.name

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "clickhouse.log"

    def pid(self) -> int | None:
        return live_pid(self.run_dir / "clickhouse.pid", b"clickhouse_server\0serve")

    def is_running(self) -> bool:
        """Ours and answering ``/ping``: a live process alone may still be starting."""
        return self.pid() is not None and _pings(self.port)

    def status(self) -> str:
        pid = self.pid()
        if pid is None:
            return "stopped"
        health = "ready" if _pings(self.port) else "not answering"
        return f"running (pid {pid}) on {self.url}, {health}"

    def start(self, timeout: float = 60) -> None:
        """Detached (own session, re-parented via ``sh``) so it outlives the caller."""
        if self.pid() is not None:
            self._wait_ready(timeout)
            return
        if _pings(self.port):
            raise ClickHouseServerError(f"port {self.port} is served by someone else")
        keep_out_of_git(self.home)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        users, tls_args = USERS, []
        if self.https is not None:
            tls = self.https
            digest = hashlib.sha256(tls.password.encode()).hexdigest()
            user = USER.format(name=tls.user, sha256=digest)
            users = USERS.replace("</default></users>", f"</default>\n    {user}</users>")
            tls_args = [
                "--https-port",
                str(tls.port),
                "--cert",
                str(tls.cert_file),
                "--key",
                str(tls.key_file),
            ]
        (self.run_dir / "config.xml").write_text(CONFIG.format(port=self.port))
        (self.run_dir / "users.xml").write_text(users)
        fifo = self.run_dir / "shutdown.fifo"
        fifo.unlink(missing_ok=True)  # a regular file left here would stop us at once
        os.mkfifo(fifo)
        root = str(Path(__file__).resolve().parents[2])  # so the child finds us
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        module = "costline.dev.servers.clickhouse_server"
        child = [sys.executable, "-m", module, "serve", "--run-dir", str(self.run_dir), *tls_args]
        print(f"starting ClickHouse on {self.url}...", flush=True)
        began = time.monotonic()
        pidfile = self.run_dir / "clickhouse.pid"
        launch_detached(child, pidfile, self.run_dir, self.log_file, {**os.environ, "PYTHONPATH": path})
        self._wait_ready(timeout)
        took = time.monotonic() - began
        print(f"ClickHouse ready on {self.url} in {took:.1f}s", flush=True)

    def stop(self, timeout: float = 30) -> None:
        """The FIFO ends the blocking query so the engine shuts down cleanly."""
        pid = self.pid()
        if pid is not None:
            deadline = time.monotonic() + timeout
            if self._write_fifo(min(deadline, time.monotonic() + 10)):
                self._wait_gone(deadline)
            for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
                if self.pid() is not None:
                    send_signal(pid, sig)
                    self._wait_gone(time.monotonic() + grace)
            if self.pid() is not None:
                raise ClickHouseServerError(f"pid {pid} survived SIGKILL")
            print("ClickHouse stopped", flush=True)
        (self.run_dir / "clickhouse.pid").unlink(missing_ok=True)

    def _write_fifo(self, deadline: float) -> bool:
        """Non-blocking open: ENXIO means no reader yet (starting up), not a hang."""
        while self.pid() is not None and time.monotonic() < deadline:
            try:
                flags = os.O_WRONLY | os.O_NONBLOCK
                fd = os.open(self.run_dir / "shutdown.fifo", flags)
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    return False
                time.sleep(0.1)
                continue
            try:
                return os.write(fd, b"stop\n") > 0
            except OSError:
                return False
            finally:
                os.close(fd)
        return False

    def _wait_gone(self, deadline: float) -> None:
        while self.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.1)

    def _wait_ready(self, timeout: float) -> None:
        """Allows a moment without a pid: ``sh`` may exit before its child exec's."""
        deadline = time.monotonic() + timeout
        seen = time.monotonic()
        while time.monotonic() < deadline:
            if self.pid() is not None:
                seen = time.monotonic()
            elif time.monotonic() - seen > 1.0:
                raise ClickHouseServerError(f"exited during start-up:\n{self._tail()}")
            if _pings(self.port):
                return
            time.sleep(0.1)
        self.stop()
        raise ClickHouseServerError(f"not ready after {timeout:.1f}s:\n{self._tail()}")

    def _tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            text = self.log_file.read_text(errors="replace")
            return "\n".join(text.strip().splitlines()[-lines:])
        return "(no log written)"


def _pings(port: int, timeout: float = 1.0) -> bool:
    """http.client, not urllib, so an http_proxy in the environment is never used."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/ping")
        response = conn.getresponse()
        return response.status == 200 and response.read() == b"Ok.\n"
    except OSError:
        return False
    finally:
        conn.close()


def _serve(run_dir: Path, https: tuple[int, Path, Path] | None = None) -> int:
    """Child side: ``import chdb`` runs away from config.xml, the query beside it."""
    if https is not None:
        port, cert, key = https
        backend = int(re.findall(r"<http_port>(\d+)</http_port>", (run_dir / "config.xml").read_text())[0])
        tls_front.start_in_thread(port, cert, key, backend)
    os.chdir("/")
    from chdb import _chdb  # heavy, and only the child needs it

    os.chdir(run_dir)
    fifo = str(run_dir / "shutdown.fifo").replace("\\", "\\\\").replace("'", "\\'")
    sql = f"SYSTEM START LISTEN HTTP; SELECT * FROM file('{fifo}', 'LineAsString')"
    print(f"{time.strftime('%F %T')} pid {os.getpid()} serving", flush=True)
    try:  # engine errors (e.g. port in use) go to stderr, not into the result
        result = _chdb.query(sql, "TabSeparated", path=str(run_dir / "data"))  # type: ignore[attr-defined]
        ok = not result.has_error() and result.bytes() == b"stop\n"
    except RuntimeError as exc:
        print(exc)
        ok = False
    print(f"{time.strftime('%F %T')} {'stopped' if ok else 'failed'}", flush=True)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local ClickHouse server (chdb-core).")
    parser.add_argument("command", choices=["start", "stop", "status", "serve"])
    home = Path(os.environ.get("COSTLINE_HOME", ".costline"))
    parser.add_argument("--home", type=Path, default=home)
    parser.add_argument("--port", type=int, default=18123)
    parser.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--https-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cert", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--key", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command == "serve":
        https = (args.https_port, args.cert, args.key) if args.https_port else None
        return _serve(args.run_dir.resolve(), https)
    server = ClickHouseServer(args.home.resolve(), args.port)
    try:
        if args.command == "status":
            print(server.status())
            return 0 if server.is_running() else 1
        getattr(server, args.command)()
    except ClickHouseServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
