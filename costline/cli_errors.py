"""How ``costline`` reports a failure: one line on stderr and an exit status, never a traceback.

Exit statuses: 2 for what the operator asked (arguments, files, settings,
billing data), 69 (``EX_UNAVAILABLE``) when Kafka or ClickHouse cannot be
reached, 1 for anything else. ``COSTLINE_DEBUG=1`` adds the traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import traceback
from typing import NoReturn

from pydantic import ValidationError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 69
MAX_LINE = 500  # a server's message may carry a stack trace; the line says what failed


class UsageError(ValueError):
    """The command was asked for something it cannot do."""


class ServiceUnavailable(RuntimeError):
    """Kafka or ClickHouse did not answer."""


class KafkaRefusals(logging.Handler):
    """Why aiokafka last failed to connect: its exception says only "Unable to bootstrap",
    and the cause (a refused SCRAM login, an untrusted certificate) is only logged."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        found = re.match(r'Unable connect to "[^"]*": (.*)', record.getMessage(), re.S)
        if found:
            self.last = found[1]


KAFKA_REFUSALS = KafkaRefusals()


class CliParser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line and exit 2 (the usage is in ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")


def one_line(text: str) -> str:
    line = re.sub(r"\s+", " ", text).strip()
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"


def describe_validation(exc: ValidationError, setting: bool = False) -> str:
    """A pydantic error as ``where: what; where: what``; for settings, where is the variable."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        if setting and where:  # a check of several settings names them in its message
            where = f"COSTLINE_{where.upper()}"
        what = error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {what}" if where else what)
    return "; ".join(problems) or str(exc)


def classify(exc: BaseException) -> tuple[int, str]:
    """The exit status and message for an exception a command raised."""
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
    from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

    from billing.exceptions import BillingError
    from billing.store import BillingDataError
    from costline.publisher import KafkaUnavailable, PublishError
    from schemas.prices import PriceFileError

    if isinstance(exc, ServiceUnavailable):
        return EXIT_UNAVAILABLE, str(exc)
    if isinstance(exc, OperationalError):
        return EXIT_UNAVAILABLE, (
            f"cannot reach ClickHouse{_clickhouse_url(exc)} ({_cause(exc)}); "
            "start it with `costline services up`, or check COSTLINE_CLICKHOUSE_URL"
        )
    if isinstance(exc, DatabaseError) and "AUTHENTICATION_FAILED" in str(exc):
        return EXIT_UNAVAILABLE, (
            f"ClickHouse{_clickhouse_url(exc)} refused the login: {_server_message(exc)}; "
            "check COSTLINE_CLICKHOUSE_USER and COSTLINE_CLICKHOUSE_PASSWORD (or its _FILE)"
        )
    refusal = _kafka_refusal(exc)
    if refusal is not None:
        return EXIT_UNAVAILABLE, refusal
    if isinstance(exc, KafkaConnectionError | KafkaTimeoutError):
        return EXIT_UNAVAILABLE, (
            f"cannot reach Kafka{_kafka_hosts(exc)} ({_kafka_cause(exc)}); "
            "start it with `costline services up`, or check COSTLINE_KAFKA_BOOTSTRAP"
        )
    if isinstance(exc, KafkaUnavailable):
        return (
            EXIT_UNAVAILABLE,
            f"{exc}; start it with `costline services up`, or check COSTLINE_KAFKA_BOOTSTRAP",
        )
    if isinstance(exc, PublishError):
        return EXIT_FAILED, str(exc)
    if isinstance(exc, DatabaseError) and re.search(r"UNKNOWN_(DATABASE|TABLE)", str(exc)):
        return EXIT_FAILED, f"{_server_message(exc)}; create the schema with `costline db migrate`"
    if isinstance(exc, ValidationError):
        return EXIT_USAGE, describe_validation(exc)
    if isinstance(exc, UsageError | BillingError | BillingDataError | PriceFileError | FileExistsError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        return EXIT_USAGE, f"{exc.filename}: {exc.strerror or exc}"
    return EXIT_FAILED, f"{type(exc).__name__}: {exc}"


def report(command: str, exc: BaseException) -> int:
    """Print one line for ``exc`` (and, with COSTLINE_DEBUG=1, its traceback); returns the status."""
    status, message = classify(exc)
    if debugging():
        traceback.print_exception(exc, file=sys.stderr)
    print(f"costline {command}: {one_line(message)}", file=sys.stderr)
    return status


def debugging() -> bool:
    return os.environ.get("COSTLINE_DEBUG", "") not in ("", "0")


def _kafka_refusal(exc: BaseException) -> str | None:
    """A connection Kafka refused for its credentials or certificate, said as such."""
    from aiokafka.errors import KafkaConnectionError

    from costline.publisher import KafkaUnavailable

    reason = KAFKA_REFUSALS.last
    if reason is None or not isinstance(exc, KafkaConnectionError | KafkaUnavailable):
        return None
    if "SaslAuthenticationFailed" in reason or "SASL" in reason:
        what = re.sub(r"^\[Error \d+\] SaslAuthenticationFailed: ", "", reason)
        return (
            f"Kafka{_kafka_hosts(exc)} refused the login ({what}); check COSTLINE_KAFKA_SASL_USERNAME, "
            "COSTLINE_KAFKA_SASL_PASSWORD (or its _FILE) and COSTLINE_KAFKA_SASL_MECHANISM"
        )
    if "CERTIFICATE_VERIFY_FAILED" in reason or "SSL" in reason:
        return (
            f"Kafka{_kafka_hosts(exc)}: TLS failed ({reason}); check COSTLINE_KAFKA_SSL_CA_FILE "
            "and COSTLINE_KAFKA_SECURITY_PROTOCOL"
        )
    return None


def _cause(exc: BaseException) -> str:
    text = str(exc)
    refused = re.search(r"\[Errno \d+\] [^\"')]+", text)
    return refused[0] if refused else text


def _server_message(exc: BaseException) -> str:
    found = re.search(r"DB::Exception: (.*?)(?: \(version [^)]*\))?(?: \(for url [^)]*\))?$", str(exc))
    return found[1] if found else str(exc)


def _clickhouse_url(exc: BaseException) -> str:
    found = re.search(r"\((https?://[^)\s]+)\)\s*$", str(exc))
    return f" at {found[1]}" if found else ""


def _kafka_hosts(exc: BaseException) -> str:
    hosts = re.findall(r"\('([^']+)', (\d+)", str(exc))
    return f" at {','.join(f'{host}:{port}' for host, port in hosts)}" if hosts else ""


def _kafka_cause(exc: BaseException) -> str:
    text = re.sub(r"^\w+: ", "", str(exc))  # aiokafka repeats the class name
    return re.sub(r" from \[.*\]$", "", text) or type(exc).__name__
