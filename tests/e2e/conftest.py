"""End-to-end fixtures: the real local Kafka broker and ClickHouse server.

``make test`` starts both before pytest; if they are not running, the first
test starts them (and ``make down`` stops them). Nothing here is skipped
when a service is missing: a test that needs Kafka fails without it.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import SecretStr

from costline import migrations
from costline.clickhouse import open_client
from costline.config import KafkaSecurityProtocol, SaslMechanism, Settings, get_settings
from costline.dev import local_servers
from costline.dev.harness import Pipeline
from costline.dev.servers.certificates import ThrowawayPki, make_throwaway_pki
from costline.dev.servers.clickhouse_server import ClickHouseServer, HttpsListener
from costline.dev.servers.kafka_broker import KafkaBroker, SaslSslListener
from tests.e2e.migration_steps import MigrateOnly


@pytest.fixture(scope="session")
def services() -> Settings:
    settings = get_settings()
    local_servers.up(settings)
    return settings


@pytest.fixture
def database(services: Settings) -> Iterator[Settings]:
    """A ClickHouse database of the test's own, dropped after it: migrations are tried on it from empty."""
    fresh = services.model_copy(update={"clickhouse_database": f"costline_test_db_{secrets.token_hex(4)}"})
    yield fresh
    open_client(fresh, database="").command(f"DROP DATABASE IF EXISTS `{fresh.clickhouse_database}`")


@pytest.fixture
def migrate_only(monkeypatch: pytest.MonkeyPatch) -> MigrateOnly:
    """Migrates a database with only the DDL files kept, as a database was before a later migration."""

    def run(database: Settings, keep: Callable[[Path], bool]) -> None:
        every = migrations.ddl_files()
        monkeypatch.setattr(migrations, "ddl_files", lambda: [p for p in every if keep(p)])
        migrations.migrate(database, log=lambda _: None)
        monkeypatch.setattr(migrations, "ddl_files", lambda: every)

    return run


@pytest.fixture(scope="module")
def pipeline(services: Settings, request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    p = Pipeline.create(services, request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))
    p.load_prices()
    p.start_worker()
    yield p
    p.close()


# Ports of the secured services, apart from the plain ones (19092/19093/18123):
# the broker's SASL_SSL listener and ClickHouse's HTTPS port are what clients use;
# the others are the servers' own (readiness probe, controller, the engine behind TLS).
SECURE_PORTS = {
    "kafka_sasl_ssl": 19094,
    "kafka_controller": 19095,
    "kafka_plain": 19096,
    "clickhouse_https": 18124,
    "clickhouse_plain": 18125,
}


def secure_port(name: str) -> int:
    return int(os.environ.get(f"COSTLINE_TEST_{name.upper()}_PORT", SECURE_PORTS[name]))


@dataclass(frozen=True)
class SecureServices:
    """Settings for clients of the secured broker and ClickHouse, and the secrets they were given."""

    settings: Settings
    kafka_password: str = field(repr=False)
    clickhouse_password: str = field(repr=False)
    pki: ThrowawayPki


@pytest.fixture(scope="session")
def secure_services(services: Settings) -> Iterator[SecureServices]:
    """A second broker with a SASL_SSL/SCRAM listener and a ClickHouse behind TLS, fresh each session."""
    home = services.home.resolve()
    pki = make_throwaway_pki(home / "run" / "secure-pki")
    kafka_password, clickhouse_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    listener = SaslSslListener(
        secure_port("kafka_sasl_ssl"), pki.keystore, pki.keystore_password, "costline", kafka_password
    )
    broker = KafkaBroker(
        home,
        secure_port("kafka_plain"),
        secure_port("kafka_controller"),
        sasl_ssl=listener,
        name="kafka-secure",
    )
    https = HttpsListener(
        secure_port("clickhouse_https"), pki.cert_file, pki.key_file, "costline_app", clickhouse_password
    )
    clickhouse = ClickHouseServer(home, secure_port("clickhouse_plain"), https, name="clickhouse-secure")
    # SCRAM users are made when the storage is formatted: a new password needs a new format.
    broker.stop()
    shutil.rmtree(broker.run_dir / "data", ignore_errors=True)
    clickhouse.stop()
    broker.start()
    clickhouse.start()
    settings = services.model_copy(
        update={
            "kafka_bootstrap": f"127.0.0.1:{listener.port}",
            "kafka_security_protocol": KafkaSecurityProtocol.SASL_SSL,
            "kafka_sasl_mechanism": SaslMechanism.SCRAM_SHA_512,
            "kafka_sasl_username": listener.username,
            "kafka_sasl_password": SecretStr(kafka_password),
            "kafka_ssl_ca_file": pki.ca_file,
            # localhost, not 127.0.0.1: the certificate's names are checked too.
            "clickhouse_url": f"https://localhost:{https.port}",
            "clickhouse_user": https.user,
            "clickhouse_password": SecretStr(clickhouse_password),
            "clickhouse_ca_file": pki.ca_file,
        }
    )
    yield SecureServices(settings, kafka_password, clickhouse_password, pki)
    broker.stop()
    clickhouse.stop()
