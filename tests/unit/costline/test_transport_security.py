"""Transport security settings: what each client is given, and where a secret may come from."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from costline.clickhouse import _connection
from costline.config import KafkaSecurityProtocol, SaslMechanism, Settings
from costline.kafka_auth import client_security, faust_credentials

CA = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


def secured(**fields: object) -> Settings:
    return Settings(
        kafka_security_protocol=KafkaSecurityProtocol.SASL_SSL,
        kafka_sasl_username="costline",
        kafka_sasl_password=SecretStr("scram-secret"),
        **fields,  # type: ignore[arg-type]
    )


def test_plaintext_is_the_default_and_gives_clients_nothing_more() -> None:
    assert client_security(Settings()) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(Settings()) is None


def test_sasl_ssl_gives_every_client_a_verifying_tls_context_and_the_scram_login() -> None:
    args = client_security(secured(kafka_sasl_mechanism=SaslMechanism.SCRAM_SHA_256))

    context = args.pop("ssl_context")
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert args == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "costline",
        "sasl_plain_password": "scram-secret",
    }


def test_the_worker_gets_the_same_login_as_faust_credentials() -> None:
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    args = credentials_to_aiokafka_auth(faust_credentials(secured()))

    assert args["security_protocol"] == "SASL_SSL"
    assert args["sasl_mechanism"] == "SCRAM-SHA-512"
    assert args["sasl_plain_password"] == "scram-secret"
    assert isinstance(args["ssl_context"], ssl.SSLContext)


def test_sasl_without_a_username_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="COSTLINE_KAFKA_SASL_USERNAME"):
        Settings(kafka_security_protocol=KafkaSecurityProtocol.SASL_SSL)


def test_a_secret_may_come_from_a_file_without_its_trailing_newline(tmp_path: Path) -> None:
    (tmp_path / "kafka").write_text("from-a-file\n")
    (tmp_path / "clickhouse").write_text("ch-from-a-file\n")

    settings = Settings(
        kafka_security_protocol=KafkaSecurityProtocol.SASL_PLAINTEXT,
        kafka_sasl_username="costline",
        kafka_sasl_password_file=tmp_path / "kafka",
        clickhouse_password_file=tmp_path / "clickhouse",
    )

    assert client_security(settings)["sasl_plain_password"] == "from-a-file"
    assert _connection(settings)["password"] == "ch-from-a-file"


def test_a_secret_given_both_ways_or_in_a_missing_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("x")
    with pytest.raises(ValidationError, match="not both"):
        Settings(clickhouse_password=SecretStr("y"), clickhouse_password_file=tmp_path / "pw")
    with pytest.raises(ValidationError, match="not a readable file"):
        Settings(clickhouse_password_file=tmp_path / "absent")


def test_clickhouse_over_https_verifies_against_the_ca_file() -> None:
    settings = Settings(
        clickhouse_url="https://ch.example.com",
        clickhouse_user="costline_app",
        clickhouse_password=SecretStr("ch-secret"),
        clickhouse_ca_file=CA,
    )

    assert _connection(settings) == {
        "host": "ch.example.com",
        "port": 8443,
        "secure": True,
        "username": "costline_app",
        "password": "ch-secret",
        "verify": True,
        "ca_cert": str(CA),
    }


def test_settings_never_show_a_secret() -> None:
    settings = secured(clickhouse_password=SecretStr("ch-secret"))

    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "scram-secret" not in text
        assert "ch-secret" not in text
