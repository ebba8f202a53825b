"""A real one-node Apache Kafka broker for development and tests, without Docker.

Jars come from Maven Central (``mvn dependency:copy-dependencies``) because a
package registry is the only source this project may fetch from. The broker
runs in KRaft mode, broker and controller in one JVM, on loopback only.

costline.config.KAFKA_VERSION is the newest release verified end to end with aiokafka 0.14
and faust-streaming 0.15.3: idempotent and transactional producers
(send_offsets_to_transaction, aborts), consumer groups, admin topic creation,
compacted topics, and Faust tables restored from their changelog after a
restart, at_least_once and exactly_once. No fallback to 3.9 is needed:
aiokafka >= 0.13 negotiates versions and never sends those Kafka 4 removed
(KIP-896). Only 4.x works here; 3.x logs through log4j 1.

The quorum is static (``controller.quorum.voters``, not ``--standalone``) so
a changed controller port needs only a restart. A short-lived ``sh`` launches
the JVM so it is re-parented away from the caller: it outlives ``python -m
... start``, and a test process leaves no zombie or ResourceWarning behind.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import DEVNULL, PIPE, STDOUT

from costline.config import KAFKA_VERSION
from costline.dev.servers.processes import keep_out_of_git, launch_detached, live_pid, send_signal, tail

# Kafka 4 logs through log4j2, but kafka_2.13's pom brings only slf4j-api:
# without this binding slf4j falls back to NOP and every broker log is lost.
LOG4J_VERSION = "2.25.5"
JVM_FLAGS = ["-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]
MVN = ["mvn", "-q", "-B", "dependency:copy-dependencies", "-DoutputDirectory=lib"]
POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.costline</groupId><artifactId>kafka-runtime</artifactId>
  <version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId><version>{log4j}</version></dependency>
  </dependencies>
</project>
"""
# One file, started afresh by each start, and nothing on stdout: the stock
# config logs to the console, and its config dumps are ~2,500 lines a start.
# log4j's own shutdown hook would close the file before Kafka logs its stop.
LOG4J2 = """status = warn
shutdownHook = disable
appender.file.type = File
appender.file.name = file
appender.file.fileName = {logs}/server.log
appender.file.append = false
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = warn
"""
# The internal topics get 8 partitions, not 50: on two cores the first group
# join and the first transaction wait noticeably for 50 to be created.
SERVER_PROPERTIES = """process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{cport}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data}
num.partitions=8
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.num.partitions=8
offsets.topic.replication.factor=1
transaction.state.log.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# Compacted topics (the windows changelog, prices) are cleaned as soon as
# they qualify: the cleaner looks for work every 5 s, not every 15 s.
log.cleaner.enable=true
log.cleaner.backoff.ms=5000
"""


# For tests of secure transports: clients connect over SASL_SSL with SCRAM; the
# broker itself (readiness probe, inter-broker, controller) keeps PLAINTEXT on loopback.
SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
SASL_SSL_PROPERTIES = f"""
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={SCRAM_LOGIN}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={SCRAM_LOGIN}
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
inter.broker.listener.name=PLAINTEXT
ssl.keystore.type=PKCS12
ssl.keystore.location={{keystore}}
ssl.keystore.password={{password}}
ssl.key.password={{password}}
"""


@dataclass(frozen=True)
class SaslSslListener:
    """A SASL_SSL port, the broker's PKCS12 keystore, and a SCRAM user made at format time."""

    port: int
    keystore: Path
    keystore_password: str = field(repr=False)
    username: str
    password: str = field(repr=False)


class KafkaBrokerError(RuntimeError):
    """Raised when the broker cannot be installed, started or stopped."""


@dataclass(frozen=True)
class KafkaBroker:
    """A broker whose jars, data and logs all live under ``home`` (git-ignored)."""

    home: Path
    port: int = 19092
    controller_port: int = 19093
    version: str = KAFKA_VERSION
    sasl_ssl: SaslSslListener | None = None
    # Under run/: a second broker (for tests) keeps its data apart from the plain one's.
    name: str = "kafka"

    def __post_init__(self) -> None:
        # The JVM runs in run_dir, so a relative home would point it elsewhere.
        object.__setattr__(self, "home", Path(self.home).resolve())

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def install_dir(self) -> Path:
        return self.home / "kafka" / self.version

    @property
    def run_dir(self) -> Path:
        return self.home / "run" / self.name

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / "server.log"

    def install(self) -> None:
        """Fetch the jars once; a marker written last makes a half-done fetch redo."""
        lib, marker = self.install_dir / "lib", self.install_dir / "installed"
        if marker.exists():
            return
        if shutil.which("mvn") is None or shutil.which("java") is None:
            raise KafkaBrokerError("Kafka needs 'java' (17+) and 'mvn' on PATH")
        keep_out_of_git(self.home)
        print(f"installing Kafka {self.version} via Maven...", flush=True)
        shutil.rmtree(lib, ignore_errors=True)
        self.install_dir.mkdir(parents=True, exist_ok=True)
        pom = POM.format(kafka=self.version, log4j=LOG4J_VERSION)
        (self.install_dir / "pom.xml").write_text(pom)
        done = _run(MVN, cwd=self.install_dir)
        if done.returncode != 0 or not any(lib.glob("kafka_2.13-*.jar")):
            raise KafkaBrokerError(f"mvn failed:\n{tail(done.stdout)}")
        marker.write_text(self.version + "\n")

    def pid(self) -> int | None:
        return live_pid(self.run_dir / "kafka.pid", b"kafka.Kafka", allow_blank_cmdline=True)

    def is_running(self) -> bool:
        return self.pid() is not None

    def is_healthy(self) -> bool:
        return self.is_running() and _answers_api_versions(self.port)

    def status(self) -> str:
        pid = self.pid()
        if pid is None:
            return "stopped"
        health = "ready" if _answers_api_versions(self.port) else "not answering"
        return f"running (pid {pid}) on {self.bootstrap}, {health}"

    def start(self, timeout: float = 90) -> None:
        """Start and wait for an answer to a request: a bound port is not ready yet."""
        if self.is_running():
            self._wait_ready(timeout)
            print(f"Kafka already running on {self.bootstrap}", flush=True)
            return
        if _answers_api_versions(self.port):
            raise KafkaBrokerError(f"port {self.port} is served by another process")
        self.install()
        self._write_config()
        self._format_once()
        began = time.monotonic()
        print(f"starting Kafka {self.version} on {self.bootstrap}...", flush=True)
        java = self._java("kafka.Kafka", str(self.run_dir / "server.properties"))
        self.log_file.unlink(missing_ok=True)  # so a failure shows this run's log
        (self.run_dir / "kafka.out").unlink(missing_ok=True)
        launch_detached(java, self.run_dir / "kafka.pid", self.run_dir, self.run_dir / "kafka.out")
        self._wait_ready(timeout)
        took = time.monotonic() - began
        print(f"Kafka ready on {self.bootstrap} after {took:.1f}s", flush=True)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM lets the broker close its logs cleanly; SIGKILL is the fallback."""
        pid = self.pid()
        if pid is not None:
            send_signal(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.pid() is not None and time.monotonic() < deadline:
                time.sleep(0.2)
            if self.pid() is not None:
                send_signal(pid, signal.SIGKILL)
                time.sleep(0.5)
            if self.pid() is not None:
                raise KafkaBrokerError(f"Kafka pid {pid} survived SIGKILL")
            print("Kafka stopped", flush=True)
        (self.run_dir / "kafka.pid").unlink(missing_ok=True)

    def _java(self, main: str, *args: str) -> list[str]:
        return [
            "java",
            *JVM_FLAGS,
            f"-Dlog4j2.configurationFile={self.run_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.log_file.parent}",
            *("-cp", str(self.install_dir / "lib" / "*"), main, *args),
        ]

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                log = self._log_tail()
                raise KafkaBrokerError(f"Kafka exited during start-up:\n{log}")
            if _answers_api_versions(self.port):
                return
            time.sleep(0.5)
        self.stop()
        raise KafkaBrokerError(f"not ready in {timeout:g}s:\n{self._log_tail()}")

    def _write_config(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log4j2 = LOG4J2.format(logs=self.log_file.parent)
        (self.run_dir / "log4j2.properties").write_text(log4j2)
        props = SERVER_PROPERTIES.format(
            port=self.port, cport=self.controller_port, data=self.run_dir / "data"
        )
        if (tls := self.sasl_ssl) is not None:
            secure = f"SASL_SSL://127.0.0.1:{tls.port}"
            props = (
                props.replace(
                    f"CONTROLLER://127.0.0.1:{self.controller_port}\n",
                    f"CONTROLLER://127.0.0.1:{self.controller_port},{secure}\n",
                )
                .replace(
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port},{secure}",
                )
                .replace("PLAINTEXT:PLAINTEXT\n", "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL\n")
            )
            props += SASL_SSL_PROPERTIES.format(keystore=tls.keystore, password=tls.keystore_password)
        (self.run_dir / "server.properties").write_text(props)

    def _format_once(self) -> None:
        """Format on first start, and again on a version change (the data is disposable)."""
        data, stamp = self.run_dir / "data", self.run_dir / "formatted-by"
        if (data / "meta.properties").exists() and stamp.exists():
            if stamp.read_text().strip() == self.version:
                return
            print(f"Kafka version is now {self.version}: wiping {data}", flush=True)
        shutil.rmtree(data, ignore_errors=True)
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        cluster_id = "A" + cluster_id[1:]  # Kafka refuses ids that start with "-"
        config = str(self.run_dir / "server.properties")
        tool = self._java("kafka.tools.StorageTool", "format", "-t", cluster_id)
        users: list[str] = []
        if (tls := self.sasl_ssl) is not None:
            for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
                users += ["--add-scram", f"{mechanism}=[name={tls.username},password={tls.password}]"]
        done = _run([*tool, "-c", config, *users], cwd=self.run_dir)
        if done.returncode != 0:
            raise KafkaBrokerError(f"storage format failed:\n{tail(done.stdout)}")
        stamp.write_text(self.version + "\n")

    def _log_tail(self) -> str:
        """The first errors, then the last lines: a failed start ends in ~100 lines
        of orderly shutdown that bury the cause. NotController errors are left out
        because every start logs one while the controller elects itself."""
        logs = [self.run_dir / "kafka.out", self.log_file]
        text = "".join(log.read_text(errors="replace") for log in logs if log.exists())
        lines = [line for line in text.splitlines() if "NotController" not in line]
        errors = [line for line in lines if " ERROR " in line or "Caused by" in line]
        return "\n".join([*errors[:8], "...", *lines[-15:]])


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, stdin=DEVNULL, stdout=PIPE, stderr=STDOUT, text=True, check=False)


def _answers_api_versions(port: int, timeout: float = 2.0) -> bool:
    """True once the broker answers an ApiVersions request.

    KRaft opens the client listener to requests only after the broker has
    caught up with the metadata log and been unfenced, so an answer means
    clients can work. A raw v0 request keeps this synchronous and safe to call
    from inside a running event loop, where aiokafka's admin client is not.
    """
    correlation_id = 7
    request = struct.pack(">hhih", 18, 0, correlation_id, 8) + b"costline"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(request)) + request)
            with sock.makefile("rb") as stream:
                (size,) = struct.unpack(">i", stream.read(4))
                body = stream.read(size)
    except (OSError, struct.error):
        return False
    if len(body) < 10:  # correlation id, error code, count of APIs
        return False
    answer: tuple[int, int, int] = struct.unpack(">ihi", body[:10])
    return answer[0] == correlation_id and answer[1] == 0 and answer[2] > 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a local one-node Kafka broker.")
    parser.add_argument("command", choices=["install", "start", "stop", "status"])
    home = os.environ.get("COSTLINE_HOME", ".costline")
    parser.add_argument("--home", type=Path, default=Path(home))
    parser.add_argument("--port", type=int, default=19092)
    parser.add_argument("--controller-port", type=int, default=19093)
    parser.add_argument("--kafka-version", default=KAFKA_VERSION)
    args = parser.parse_args(argv)
    broker = KafkaBroker(args.home, args.port, args.controller_port, args.kafka_version)
    if args.command == "status":
        print(broker.status())
        return 0 if broker.is_running() else 1
    actions = {"install": broker.install, "start": broker.start, "stop": broker.stop}
    try:
        actions[args.command]()
    except KafkaBrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
