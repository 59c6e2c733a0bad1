"""All of DSRS's configuration, read once from `DSRS_*` environment variables."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Ten demo regions; a deployment lists its own in DSRS_REGIONS.
DEFAULT_REGIONS = tuple(f"R{number:02d}" for number in range(1, 11))
# What a region code looks like, so that the intake contract can say it (dsrs/registry/household.py).
REGION_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,15}")
DEFAULT_PROGRAMS_DIR = Path(__file__).resolve().parent / "rules" / "programs"


class SettingsError(ValueError):
    """A `DSRS_*` variable holds a value DSRS cannot run with; the message names it."""


class Environment(StrEnum):
    LOCAL = "local"
    TEST = "test"
    STAGING = "staging"
    PRODUCTION = "production"


def _host_and_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DSRS_", extra="ignore", frozen=True)

    env: Environment = Environment.LOCAL
    kafka_url: str = Field(default="kafka://127.0.0.1:9092", description="Faust broker URL, kafka://host:port")
    kafka_reconnect_backoff_max_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Longest wait between attempts to reach a broker that refused; doubles up to it",
    )
    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/dsrs",
        description="SQLAlchemy URL of the PostgreSQL system of record",
    )
    database_socket_dir: Path | None = Field(
        default=None,
        description="Folder of PostgreSQL's Unix socket, to reach a server on this machine through it, not TCP",
    )
    mongo_url: str = Field(default="mongodb://127.0.0.1:27017/", description="MongoDB-protocol analytics store")
    mongo_database: str = "dsrs"
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=6066, ge=1, le=65535)
    cache_dir: Path = Field(default=Path("~/.cache/dsrs"), description="Local stack binaries, data and logs")
    topic_partitions: int = Field(default=4, ge=1, le=1024)
    dead_letter_partitions: int | None = Field(
        default=None, ge=1, le=1024, description="Partitions of each .dlq topic; default DSRS_TOPIC_PARTITIONS"
    )
    topic_replication_factor: int | None = Field(
        default=None, ge=1, le=16, description="Copies of every topic DSRS creates; default the brokers, at most 3"
    )
    topic_min_insync_replicas: int | None = Field(
        default=None, ge=1, le=16, description="Copies a write waits for; default one less than the replication"
    )
    log_level: str = "info"
    log_format: Literal["json", "text"] = Field(default="json", description="Worker logs: JSON lines or text")
    tracing: Literal["off", "console", "otlp", "jsonl"] = Field(default="off", description="Span exporter")
    tracing_otlp_endpoint: str | None = Field(default=None, description="OTLP/HTTP endpoint, .../v1/traces")
    tracing_file: Path | None = Field(default=None, description="Where the jsonl exporter appends spans")
    regions: Annotated[tuple[str, ...], NoDecode] = Field(
        default=DEFAULT_REGIONS, description="Region codes the registry accepts, comma-separated"
    )
    programs_dir: Path = Field(default=DEFAULT_PROGRAMS_DIR, description="Folder of program files (YAML)")
    reassessment_page_size: int = Field(
        default=1000, ge=10, le=20000, description="Households a re-assessment decides per transaction"
    )
    source_name: str = Field(default="dsrs", description="The `source` of the events this deployment emits")
    app_id: str = Field(default="dsrs", pattern=r"^[A-Za-z0-9._-]+$", description="Faust app id: consumer group")
    topic_prefix: str = Field(
        default="", pattern=r"^[A-Za-z0-9._-]*$", description="Prepended to every topic name, to share a broker"
    )
    data_dir: Path | None = Field(
        default=None, description="The worker's RocksDB tables; default CACHE_DIR/worker/APP_ID"
    )
    dedupe_window_hours: float = Field(
        default=168.0,
        ge=1.0,
        description="How long consumers remember applied event ids; at least the topics' retention (Kafka: 168)",
    )
    relay_process: bool = Field(
        default=True,
        description="Run the outbox relay in a child process of the worker (a core of its own); false: on its loop",
    )
    colocated_stages: bool = Field(
        default=True,
        description="Register, assess and pay an intake batch in one transaction; false: each stage's agent applies "
        "its events as they come through Kafka",
    )

    # Authentication: RS256/ES256 keys from a JWKS URL in production, or an HS256 secret for local work.
    jwks_url: str | None = Field(default=None, description="Where the identity provider publishes its keys")
    jwt_secret: str | None = Field(default=None, min_length=32, description="HS256 secret; local and test only")
    jwt_issuer: str = Field(default="dsrs-local", description="The `iss` every token must carry")
    jwt_audience: str = Field(default="dsrs-api", description="The `aud` every token must carry")
    jwks_refresh_seconds: int = Field(default=300, ge=10, le=86_400)
    allow_insecure_local: bool = Field(
        default=False, description="Development bypass: no token needed. Honoured only with DSRS_ENV=local"
    )

    # Payments: when they are sent, how often a failure is retried, and by when they must settle.
    payment_provider: str = Field(
        default="simulated", pattern=r"^[a-z][a-z0-9_-]*$", description="The provider adapter, by its name"
    )
    payment_max_attempts: int = Field(default=5, ge=1, le=20)
    payment_retry_base_seconds: float = Field(default=60.0, gt=0, description="First retry delay; doubles")
    payment_send_ahead_days: int = Field(default=0, ge=0, le=366, description="Send this long before due")
    payment_settlement_days: int = Field(default=5, ge=0, le=90, description="Due date + this = deadline")
    provider_latency_seconds: float = Field(default=2.0, ge=0, description="Simulated provider: settle delay")
    provider_failure_rate: float = Field(default=0.05, ge=0, le=1, description="Simulated provider: failures")
    # Payment cycles: the worker opens each one this many days before it is due; reconciliation on a clock.
    payment_cycle_auto_open: bool = Field(default=True, description="The worker opens cycles on its own")
    payment_cycle_open_days: int = Field(default=5, ge=0, le=366, description="Open a cycle this long before due")
    reconcile_every_seconds: float = Field(default=3600.0, ge=1, description="Deadline check without a statement")
    # The G2P Connect disbursement adapter (DSRS_PAYMENT_PROVIDER=g2p-connect).
    g2p_url: str | None = Field(default=None, description="The G2P Connect disbursement API's base URL")
    g2p_access_token: str | None = Field(default=None, description="Bearer token DSRS sends to the G2P API")
    g2p_callback_token: str | None = Field(
        default=None, min_length=32, description="Bearer token the G2P API must send to on-disburse"
    )
    g2p_callback_url: str | None = Field(default=None, description="Our on-disburse URL, sent as sender_uri")
    g2p_sender_id: str = Field(default="dsrs", description="DSRS's sender_id at the G2P gateway")
    g2p_receiver_id: str = Field(default="g2p-connect", description="The disbursement system's receiver_id")
    g2p_payer_fa: str = Field(default="account:dsrs-program", description="The program's paying account (payer_fa)")
    g2p_status_after_seconds: float = Field(
        default=600.0, ge=1, description="Ask disburse/status for a payment sent this long without a callback"
    )

    # The DCI Social Registry API (docs/dci.md).
    dci_sender_id: str = Field(
        default="dsrs", min_length=1, max_length=99, description="DSRS's sender_id in DCI messages it sends"
    )
    dci_signing_key: str | None = Field(
        default=None, min_length=32, description="HMAC-SHA256 key that signs DCI callbacks and responses"
    )
    dci_signing_key_id: str = Field(default="dsrs-1", description="The key id named in DCI signatures")
    dci_request_key: str | None = Field(
        default=None,
        min_length=32,
        description="HMAC-SHA256 key DCI requests must be signed with; unset: signatures are not required",
    )
    dci_callback_timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="One callback's limit")
    dci_retry_base_seconds: float = Field(default=5.0, gt=0, description="First callback retry delay; doubles")
    dci_retry_max_seconds: float = Field(default=3600.0, gt=0, description="Longest delay between retries")
    dci_max_attempts: int = Field(default=10, ge=1, le=50, description="Callback attempts before giving up")
    dci_private_callbacks: bool | None = Field(
        default=None,
        description="Allow callbacks to loopback and private addresses; default: not in staging or production",
    )

    # Deduplication at registration (docs/duplicates.md).
    duplicate_matching: bool = Field(
        default=True, description="Compare each new or changed household with its candidates; false: no matching"
    )
    duplicate_hold_score: float = Field(
        default=0.8, gt=0, le=1, description="A pair scoring this or more is raised and its household held"
    )
    phone_country: str = Field(
        default="KE", pattern=r"^[A-Z]{2}$", description="Country (ISO 3166 alpha-2) of phones written without +"
    )

    # Transport security for Kafka and PostgreSQL.
    kafka_security_protocol: str = Field(default="PLAINTEXT", pattern=r"^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$")
    kafka_sasl_mechanism: str | None = Field(default=None, pattern=r"^(PLAIN|SCRAM-SHA-256|SCRAM-SHA-512)$")
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: Path | None = None
    database_ssl: str = Field(default="disable", pattern=r"^(disable|require|verify-ca|verify-full)$")
    database_ssl_cafile: Path | None = None

    @field_validator("kafka_url")
    @classmethod
    def _kafka_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "kafka" or not parts.hostname:
            raise ValueError("expected kafka://host:port")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "postgresql+asyncpg" or not parts.hostname or not parts.path.strip("/"):
            raise ValueError("expected postgresql+asyncpg://user[:password]@host[:port]/database")
        return value

    @field_validator("mongo_url")
    @classmethod
    def _mongo_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("mongodb", "mongodb+srv"):
            raise ValueError("expected mongodb://host:port/")
        return value

    @field_validator("cache_dir", "database_socket_dir")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @field_validator("regions", mode="before")
    @classmethod
    def _regions(cls, value: object) -> object:
        if isinstance(value, str):
            codes = tuple(code.strip() for code in value.split(",") if code.strip())
            if not codes:
                raise ValueError("expected comma-separated region codes")
            value = codes
        if isinstance(value, tuple | list) and not all(isinstance(c, str) and REGION_CODE.fullmatch(c) for c in value):
            raise ValueError(
                "a region code is 1 to 16 upper-case letters, digits, _ or -, starting with a letter or digit"
            )
        return value

    @field_validator("programs_dir")
    @classmethod
    def _programs_dir(cls, value: Path) -> Path:
        value = value.expanduser()
        if not value.is_dir():
            raise ValueError("not a folder")
        return value

    @model_validator(mode="after")
    def _safe_for_its_environment(self) -> Settings:
        if self.allow_insecure_local and self.env is not Environment.LOCAL:
            raise ValueError(
                f"DSRS_ALLOW_INSECURE_LOCAL is only honoured with DSRS_ENV=local, not {self.env.value}; "
                "unset it and configure DSRS_JWKS_URL"
            )
        if self.env in (Environment.STAGING, Environment.PRODUCTION):
            if self.jwks_url is None:
                raise ValueError(f"DSRS_JWKS_URL is required with DSRS_ENV={self.env.value}")
            if self.jwt_secret is not None:
                raise ValueError(f"DSRS_JWT_SECRET (HS256) is for local and test only, not {self.env.value}")
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError("DSRS_KAFKA_SASL_MECHANISM, _USERNAME and _PASSWORD are required with SASL")
        if self.payment_provider == "g2p-connect" and not (self.g2p_url and self.g2p_callback_token):
            raise ValueError("DSRS_PAYMENT_PROVIDER=g2p-connect requires DSRS_G2P_URL and DSRS_G2P_CALLBACK_TOKEN")
        if self.database_socket_dir is not None and self.database_ssl != "disable":
            raise ValueError(
                "DSRS_DATABASE_SOCKET_DIR reaches a server on this machine, where TLS does not apply: "
                f"unset it or DSRS_DATABASE_SSL={self.database_ssl}"
            )
        return self

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.lower() not in ("debug", "info", "warning", "error", "critical"):
            raise ValueError("expected one of debug, info, warning, error, critical")
        return value.lower()

    @property
    def dci_callbacks_may_be_private(self) -> bool:
        """Whether a DCI callback URL may name a loopback, private or link-local address (SSRF guard)."""
        if self.dci_private_callbacks is not None:
            return self.dci_private_callbacks
        return self.env not in (Environment.STAGING, Environment.PRODUCTION)

    @property
    def kafka_address(self) -> tuple[str, int]:
        return _host_and_port(self.kafka_url, 9092)

    @property
    def database_address(self) -> tuple[str, int]:
        return _host_and_port(self.database_url, 5432)

    @property
    def mongo_address(self) -> tuple[str, int]:
        return _host_and_port(self.mongo_url, 27017)

    @property
    def bootstrap_servers(self) -> str:
        host, port = self.kafka_address
        return f"{host}:{port}"

    @property
    def worker_data_dir(self) -> Path:
        """Where a worker keeps its RocksDB tables: by default one folder per app id, since the tables'
        files hold the changelog offsets they reached, not the changelog topics' names. Two deployments on
        one folder: the second found the first's offsets ahead of its own changelogs, and Faust stopped
        it with a ConsistencyError."""
        return (self.data_dir or self.cache_dir / "worker" / self.app_id).expanduser()

    def topic(self, name: str) -> str:
        """The broker-side name of a saga topic."""
        return f"{self.topic_prefix}{name}"


def load_settings() -> Settings:
    """Read the settings, turning the first invalid variable into one readable line."""
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if not first["loc"]:
            # A rule across several variables: the message names them.
            raise SettingsError(message) from None
        variable = "DSRS_" + "_".join(str(part) for part in first["loc"]).upper()
        hidden = ("SECRET", "PASSWORD", "TOKEN", "KEY")
        shown = "(hidden)" if any(word in variable for word in hidden) else repr(first.get("input"))
        raise SettingsError(f"{variable}: {message} (got {shown})") from None
