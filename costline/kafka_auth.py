"""The security arguments of every Kafka client, built in one place from the settings.

aiokafka's producers, consumers and admin clients all take the same keyword
arguments (``security_protocol``, ``ssl_context``, ``sasl_*``); Faust takes
them as ``broker_credentials`` (:func:`faust_credentials`) and turns them back
into the same arguments for its own clients. The password is handed to the
client and nowhere else: it is never logged, and a client's repr leaves it out.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context

from costline.config import Settings


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """TLS that verifies the brokers' certificates and host names against the CA file (or the system's)."""
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka_ssl_ca_file,
        certfile=settings.kafka_ssl_cert_file,
        keyfile=settings.kafka_ssl_key_file,
    )
    return context


def client_security(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client: ``AIOKafkaProducer(..., **client_security(s))``."""
    protocol = settings.kafka_security_protocol
    args: dict[str, Any] = {"security_protocol": protocol.value}
    if protocol.uses_tls:
        args["ssl_context"] = ssl_context(settings)
    if protocol.uses_sasl:
        args["sasl_mechanism"] = settings.kafka_sasl_mechanism.value
        args["sasl_plain_username"] = settings.kafka_sasl_username
        args["sasl_plain_password"] = settings.kafka_sasl_secret.get_secret_value()
    return args


def faust_credentials(settings: Settings) -> Any:
    """Faust's ``broker_credentials``: the same protocol, TLS and SASL as :func:`client_security`.

    Faust's aiokafka transport maps SASLCredentials with an ssl_context to
    SASL_SSL, and without one to SASL_PLAINTEXT (faust.auth, and
    credentials_to_aiokafka_auth in faust/transport/drivers/aiokafka.py).
    """
    import faust  # only the worker needs Faust; the SDK and the CLI do not import it

    protocol = settings.kafka_security_protocol
    context = ssl_context(settings) if protocol.uses_tls else None
    if protocol.uses_sasl:
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_secret.get_secret_value(),
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism.value,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
