"""Runtime settings, read once from ``COSTLINE_*`` environment variables."""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
# The one place the Kafka version is set: the local broker installs it
# (costline.dev.servers.kafka_broker, which says why this release) and
# docker-compose.yml's image is checked against it (tests/unit/costline/test_config.py).
KAFKA_VERSION = "4.4.0"


class KafkaSecurityProtocol(StrEnum):
    """How clients talk to the brokers (Kafka's ``security.protocol``)."""

    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"

    @property
    def uses_tls(self) -> bool:
        return self in (KafkaSecurityProtocol.SSL, KafkaSecurityProtocol.SASL_SSL)

    @property
    def uses_sasl(self) -> bool:
        return self in (KafkaSecurityProtocol.SASL_PLAINTEXT, KafkaSecurityProtocol.SASL_SSL)


class KafkaCompression(StrEnum):
    """The codec the worker compresses what it produces with (Kafka's ``compression.type``)."""

    NONE = "none"
    SNAPPY = "snappy"
    LZ4 = "lz4"
    ZSTD = "zstd"
    GZIP = "gzip"

    @property
    def producer_setting(self) -> str | None:
        """As aiokafka's and Faust's producers take it."""
        return None if self is KafkaCompression.NONE else self.value


class SaslMechanism(StrEnum):
    """How a SASL client proves who it is; SCRAM never sends the password itself."""

    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"
    PLAIN = "PLAIN"


def read_secret(path: Path) -> SecretStr:
    """A secret mounted as a file (Docker and Kubernetes secrets); its trailing newline is not part of it."""
    return SecretStr(path.read_text().rstrip("\r\n"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COSTLINE_", frozen=True)

    # Local state (downloads, service data, logs); git-ignored.
    home: Path = Path(".costline")

    kafka_bootstrap: str = "127.0.0.1:19092"
    kafka_controller_port: int = 19093
    kafka_version: str = KAFKA_VERSION
    # Transport security of every Kafka client (CLI, SDK, API, worker); docs/security.md.
    # The worker's changelogs, alerts and live spend (~100 MB per 1M events): snappy cuts them ~3x for
    # less CPU than the socket and the broker spend on the raw bytes. aiokafka's lz4 is its level 9,
    # ~10x slower; zstd packs tighter for ~2.5x snappy's CPU.
    kafka_compression: KafkaCompression = KafkaCompression.SNAPPY
    kafka_security_protocol: KafkaSecurityProtocol = KafkaSecurityProtocol.PLAINTEXT
    kafka_sasl_mechanism: SaslMechanism = SaslMechanism.SCRAM_SHA_512
    kafka_sasl_username: str = ""
    # The password, or (never both) a file holding it: COSTLINE_KAFKA_SASL_PASSWORD_FILE.
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_sasl_password_file: Path | None = None
    # PEM CA bundle the brokers' certificates must chain to (the system's when unset).
    kafka_ssl_ca_file: Path | None = None
    # mTLS: a client certificate and its key (PEM), for brokers that ask for one.
    kafka_ssl_cert_file: Path | None = None
    kafka_ssl_key_file: Path | None = None

    # An http(s):// URL of a ClickHouse server, or chdb:///path for the
    # embedded engine (in-process; fine for the CLI, not for the worker).
    clickhouse_url: str = "http://127.0.0.1:18123"
    clickhouse_database: str = "costline"
    clickhouse_user: str = "default"
    # The password, or (never both) a file holding it: COSTLINE_CLICKHOUSE_PASSWORD_FILE.
    clickhouse_password: SecretStr = SecretStr("")
    clickhouse_password_file: Path | None = None
    # For https:// URLs: a PEM CA bundle the server's certificate must chain to (the
    # system's when unset). Verification is on unless COSTLINE_CLICKHOUSE_VERIFY=false.
    clickhouse_ca_file: Path | None = None
    clickhouse_verify: bool = True
    # A call that takes longer is abandoned and retried: a hung server is logged, not waited on.
    clickhouse_timeout_s: float = Field(default=30.0, gt=0)
    # Backoff between retries of a ClickHouse call, doubling from the first to the cap.
    retry_delay_s: float = Field(default=0.5, gt=0)
    retry_delay_max_s: float = Field(default=5.0, gt=0)

    app_id: str = "costline"
    usage_topic: str = "costline.usage"
    prices_topic: str = "costline.prices"
    dead_letter_topic: str = "costline.usage.dlq"
    # Budgets (compacted, keyed by budget id) and the alerts the worker fires (keyed by alert id).
    budgets_topic: str = "costline.budgets"
    alerts_topic: str = "costline.alerts"
    # The worker's live spend per budget, for the budget gate (compacted, keyed by budget and subject).
    budget_spend_topic: str = "costline.budget_spend"
    partitions: int = 8

    # Tumbling window sizes, seconds, and how long each stays in worker state
    # after it closes (later events reload it from ClickHouse).
    window_sizes: tuple[int, ...] = (60, 3600)
    window_retention: tuple[int, ...] = (600, 7200)
    # How long a counted event_id makes a repeat of it a duplicate (processing
    # time): 24 h by default, 1 h to 35 days (streams/dedup.py).
    dedup_horizon_s: float = Field(default=86_400.0, ge=3600.0, le=35 * 86_400.0)

    # How far an event's occurred_at may lie before / after its message's
    # broker timestamp (as Stripe's meter events: 35 days back, 5 minutes
    # ahead). Outside, it is dead-lettered as out_of_bounds; raise the bound
    # and replay it to count it.
    event_max_age_s: float = Field(default=35 * 24 * 3600, ge=0)
    event_max_future_s: float = Field(default=300.0, ge=0)

    session_timeout_s: float = 10.0
    # Workers that also keep another worker's tables up to date from its changelog, so a takeover
    # needs no restore. Faust's default is 1; 0 here, as Kafka Streams' num.standby.replicas: a
    # standby applies every changelog record its peer writes, which doubled the tables' CPU with two
    # workers (bench/RESULTS.md), while a restore from the changelog takes seconds (bench.restart).
    table_standby_replicas: int = Field(default=0, ge=0)
    batch_max: int = 1000  # messages; a message may carry many events
    batch_within_s: float = 0.2
    # The worker's /healthz, /readyz and /metrics; port 0: a free one, picked and logged at start.
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=16066, ge=0, le=65535)
    # `costline api`: where it listens (loopback unless told), and its bounds.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=18080, ge=1, le=65535)
    api_max_batch_events: int = Field(default=1000, ge=1, le=65_536)
    api_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Events being validated or awaiting Kafka's acknowledgement; beyond it, 429.
    api_max_inflight_events: int = Field(default=20_000, ge=1)
    # How long a key lookup is trusted: a revocation takes effect within it.
    api_key_cache_s: float = Field(default=5.0, ge=0)
    # Idempotency-Key responses kept (in memory, per process), how long and how many.
    api_idempotency_ttl_s: float = Field(default=86_400.0, gt=0)
    api_idempotency_max_keys: int = Field(default=100_000, ge=1)
    # A batch Kafka has not acknowledged within this is answered 503 (safe to retry).
    api_produce_timeout_s: float = Field(default=10.0, gt=0)
    # The budget gate (`POST /v1/gate/check`): how long a reservation holds its estimate when no
    # usage settles it and it is not released. Longer than the call it guards; see docs/spend-control.md.
    gate_reservation_ttl_s: float = Field(default=60.0, gt=0, le=3600)
    # Open reservations one customer may hold; past it a check is answered 429.
    gate_max_reservations_per_customer: int = Field(default=10_000, ge=1)
    # Reservations live in one process's memory, so `costline api --workers N` (N > 1) turns
    # the gate off in its processes rather than let each hold its own book and overshoot.
    api_gate: bool = True
    # `POST /v1/traces` (OTLP/HTTP): which attribute gives each id of an event. Names
    # are tried in order, each on the span and then on its resource; the first present wins.
    # A span with usage but no customer (or another customer than its key's) is rejected.
    # As JSON lists in the environment: COSTLINE_OTLP_CUSTOMER_ATTRIBUTES='["tenant.id"]'.
    otlp_customer_attributes: tuple[str, ...] = Field(default=("costline.customer_id",), min_length=1)
    otlp_agent_attributes: tuple[str, ...] = Field(
        default=("costline.agent_id", "gen_ai.agent.name", "service.name"), min_length=1
    )
    otlp_user_attributes: tuple[str, ...] = ("costline.user_id", "enduser.id")
    otlp_task_attributes: tuple[str, ...] = ("costline.task_id", "gen_ai.conversation.id")
    # A Collector sends batches of thousands of spans (gzip-compressed): the bound, after
    # decompression, is higher than a /v1/events body's.
    otlp_max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # `costline webhooks run`: a delivery that may pass (no answer, 5xx, 408, 425, 429) is
    # tried again after base seconds, doubling up to max, until `for` after it was queued
    # (Stripe's schedule: up to 3 days). `poll` bounds how long a pass waits for new alerts.
    webhook_retry_base_s: float = Field(default=30.0, gt=0)
    webhook_retry_max_s: float = Field(default=3600.0, gt=0)
    webhook_retry_for_s: float = Field(default=3 * 86_400.0, gt=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_poll_s: float = Field(default=1.0, gt=0)
    # Spend rules (streams/spend_rules.py). Burn rate: alert when the linear projection of the
    # period's spend exceeds a budget by this percentage, once this percentage of the period passed.
    burn_rate_excess_pct: Decimal = Field(default=Decimal(20), ge=0)
    burn_rate_min_elapsed_pct: Decimal = Field(default=Decimal(10), ge=0, le=100)
    # Limits for every customer, unless a budget sets its own; empty: not checked.
    request_cost_limit: Decimal | None = Field(default=Decimal("0.50"), ge=0)
    request_token_limit: int | None = Field(default=None, ge=0)
    task_cost_limit: Decimal | None = Field(default=None, ge=0)
    task_token_limit: int | None = Field(default=5000, ge=0)
    # A task unseen this long (event time) is forgotten: its tokens start again if it comes back.
    task_idle_s: float = Field(default=6 * 3600.0, gt=0)
    # Anomalies (streams/anomaly_rules.py), for every customer's agents, budget or not.
    # A request costing more than k x its agent's trailing average (empty k: off), judged once
    # the agent has this many requests over this many days of the window.
    anomaly_request_k: Decimal | None = Field(default=Decimal(2), gt=1)
    anomaly_request_window_days: int = Field(default=30, ge=1, le=35)
    anomaly_request_min_requests: int = Field(default=50, ge=1)
    anomaly_request_min_days: int = Field(default=3, ge=1)
    # Spend in the hour above `ratio` x the same hour of the week's median (and above `floor` USD),
    # per customer and per agent; 0 turns it off.
    anomaly_hourly_ratio: Decimal = Field(default=Decimal(2), ge=0)
    anomaly_hourly_floor: Decimal = Field(default=Decimal("1.00"), ge=0)
    # Tokens per request of the last 3 days above this ratio of the 28 before; 0 turns it off.
    anomaly_token_drift_ratio: Decimal = Field(default=Decimal("1.15"), ge=0)
    # Margin: a budget that names its plan's revenue alerts when the period's cost leaves less
    # than this percentage of it (a budget may set its own, `min_margin_pct`).
    margin_min_pct: Decimal = Field(default=Decimal(20), ge=0, le=100)
    prices_dir: Path = Path("prices")
    worker_data_dir: Path = Field(default=Path(".costline/run/worker"))

    # The database name is written into DDL (it cannot be a bound parameter),
    # so it must be a plain identifier; topic names are what Kafka accepts.
    @field_validator("clickhouse_database")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not DATABASE_NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a database name: a letter or _, then up to 63 letters, digits or _"
            )
        return value

    @field_validator(
        "usage_topic",
        "prices_topic",
        "dead_letter_topic",
        "budgets_topic",
        "alerts_topic",
        "budget_spend_topic",
    )
    @classmethod
    def _topic(cls, value: str) -> str:
        if not TOPIC_NAME.fullmatch(value) or value in (".", ".."):
            raise ValueError(f"{value!r} is not a Kafka topic name: 1 to 249 of A-Z a-z 0-9 . _ -")
        return value

    @model_validator(mode="after")
    def _secret_files(self) -> Settings:
        """A secret given both ways is ambiguous; a file that cannot be read fails here, at start."""
        pairs = {
            "kafka_sasl_password": (self.kafka_sasl_password, self.kafka_sasl_password_file),
            "clickhouse_password": (self.clickhouse_password, self.clickhouse_password_file),
        }
        for name, (value, path) in pairs.items():
            if path is None:
                continue
            if value.get_secret_value():
                raise ValueError(f"set COSTLINE_{name.upper()} or COSTLINE_{name.upper()}_FILE, not both")
            if not path.is_file():
                raise ValueError(f"COSTLINE_{name.upper()}_FILE: {path} is not a readable file")
        if self.kafka_security_protocol.uses_sasl and not self.kafka_sasl_username:
            raise ValueError(f"{self.kafka_security_protocol} needs COSTLINE_KAFKA_SASL_USERNAME")
        if (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
            raise ValueError("mTLS needs both COSTLINE_KAFKA_SSL_CERT_FILE and COSTLINE_KAFKA_SSL_KEY_FILE")
        return self

    @property
    def kafka_sasl_secret(self) -> SecretStr:
        """The SASL password, read from its file at each call so a rotated secret is picked up."""
        if self.kafka_sasl_password_file is not None:
            return read_secret(self.kafka_sasl_password_file)
        return self.kafka_sasl_password

    @property
    def clickhouse_secret(self) -> SecretStr:
        if self.clickhouse_password_file is not None:
            return read_secret(self.clickhouse_password_file)
        return self.clickhouse_password

    @field_validator(
        "request_cost_limit",
        "request_token_limit",
        "task_cost_limit",
        "task_token_limit",
        "anomaly_request_k",
        mode="before",
    )
    @classmethod
    def _unset(cls, value: object) -> object:
        # COSTLINE_TASK_TOKEN_LIMIT= (empty) turns a limit off.
        return None if value == "" else value

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap.rsplit(":", 1)[1])

    @property
    def clickhouse_port(self) -> int:
        tail = self.clickhouse_url.rsplit(":", 1)[-1].strip("/")
        return int(tail) if tail.isdigit() else 8123

    @property
    def retention_by_size(self) -> dict[int, int]:
        return dict(zip(self.window_sizes, self.window_retention, strict=True))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
