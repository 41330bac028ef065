"""Settings, read from the environment and `.env` (plain variable names)."""

from __future__ import annotations

import ipaddress
import json
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

EXAMPLE_SECRET_KEY = "change-me-to-a-long-random-string"  # noqa: S105 - the refused placeholder
# RATE_LIMIT_STORAGE_URL schemes whose counts every worker process shares.
SHARED_RATE_LIMIT_SCHEMES = ("redis", "rediss")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every setting of the service; `.env.example` documents each one."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    environment: Environment = Environment.DEVELOPMENT
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    log_level: str = "INFO"
    secret_key: SecretStr = SecretStr(EXAMPLE_SECRET_KEY)
    data_dir: Path = Path(".data")

    # Owner role: runs migrations and owns every table. Unset: the embedded server.
    database_url: str | None = None
    # A superuser (or CREATEROLE + BYPASSRLS) connection used only to create the roles
    # and the database (`ledgerline db bootstrap`). The embedded server sets it itself.
    database_admin_url: str | None = None
    database_runtime_user: str = "ledgerline_app"
    database_runtime_password: SecretStr = SecretStr("")
    database_platform_user: str = "ledgerline_platform"
    database_platform_password: SecretStr = SecretStr("")
    database_pool_size: Annotated[int, Field(ge=1, le=200)] = 10
    database_max_overflow: Annotated[int, Field(ge=0, le=200)] = 10
    # Bounded waits on the database (README: "Operations"). Opening a connection, and the
    # first round trip (BEGIN) of every transaction on a pooled one, within this:
    database_connect_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 5.0
    # Waiting for a free connection when the pool and its overflow are all in use.
    database_pool_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 5.0
    # PostgreSQL cancels a request's statement that runs longer (statement_timeout); the
    # client gives up one second later if the server does not answer at all.
    database_statement_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 15.0
    # The same for the named long jobs: CSV exports and imports.
    database_long_statement_timeout_seconds: Annotated[float, Field(gt=0, le=86400)] = 300.0
    # DATABASE_URL leads to a pooler in transaction mode (PgBouncer): no prepared
    # statement outlives its transaction (asyncpg's and SQLAlchemy's statement caches
    # off, statement names unique), and the statement timeout rides on each BEGIN as
    # SET LOCAL instead of a startup parameter, which PgBouncer would refuse.
    database_transaction_pooler: bool = False
    # The owner role's URL straight to PostgreSQL, past the pooler (same database): for
    # migrations and for LISTEN, which need one server session for longer than one
    # transaction. Unset: DATABASE_URL.
    database_direct_url: str | None = None

    # Tokens. Access tokens are JWTs signed with SECRET_KEY under JWT_KEY_ID; keys in
    # JWT_PREVIOUS_KEYS ({"kid": "secret"}) still verify, so the signing key can rotate.
    jwt_key_id: str = "k1"
    jwt_previous_keys: dict[str, SecretStr] = Field(default_factory=dict)
    jwt_issuer: str = "ledgerline"
    jwt_audience: str = "ledgerline-api"
    access_token_ttl_seconds: Annotated[int, Field(ge=30, le=86400)] = 900
    # Absolute lifetime of a refresh-token family (one login on one device).
    refresh_token_ttl_days: Annotated[int, Field(ge=1, le=365)] = 30
    # A refresh token reused this soon after its rotation is refused without revoking
    # the family (two tabs racing); any later reuse revokes the family.
    refresh_reuse_grace_seconds: Annotated[int, Field(ge=0, le=60)] = 5

    # Browsers: origins allowed by CORS (comma-separated or a JSON list; "*" for any).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Proxies whose X-Forwarded-For (and X-Forwarded-Proto) are believed: addresses or
    # networks, comma-separated. Empty: the socket peer is the client.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Largest request body accepted (413 above it).
    max_request_body_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    # A request body that stalls this long between two reads is answered 408.
    request_body_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    # An idle keep-alive connection is closed after this long.
    keep_alive_timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 5
    # On SIGTERM, in-flight requests get this long to finish; then they are cancelled.
    shutdown_grace_seconds: Annotated[int, Field(ge=0, le=3600)] = 20

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value

    # Rate limits ("<count>/<second|minute|hour|day>"). Storage: empty (or memory://) for
    # this process's memory, or a Redis URL (redis://host:6379/0, rediss:// for TLS) that
    # every worker process shares; `serve --workers N` needs one (refused in production
    # without). A Redis that fails or answers slower than the timeout lets requests
    # through uncounted.
    rate_limit_enabled: bool = True
    rate_limit_storage_url: str = ""
    rate_limit_storage_timeout_seconds: Annotated[float, Field(gt=0, le=10)] = 0.5
    rate_limit_auth: str = "10/minute"
    rate_limit_default: str = "600/minute"
    rate_limit_plans: dict[str, str] = Field(default_factory=dict)
    # Acceptances of financing offers (a public link, no sign-in), per client address.
    rate_limit_financing_accept: str = "30/minute"

    @field_validator("rate_limit_auth", "rate_limit_default", "rate_limit_financing_accept")
    @classmethod
    def _valid_limit(cls, value: str) -> str:
        from limits import parse

        parse(value)
        return value

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _known_rate_limit_storage(cls, value: str) -> str:
        scheme, separator, _ = value.partition("://")
        if value and (not separator or scheme not in ("memory", *SHARED_RATE_LIMIT_SCHEMES)):
            raise ValueError("RATE_LIMIT_STORAGE_URL must be empty, memory:// or redis://...")
        return value

    @field_validator("rate_limit_plans")
    @classmethod
    def _valid_plan_limits(cls, value: dict[str, str]) -> dict[str, str]:
        from limits import parse

        for limit in value.values():
            parse(limit)
        return value

    # Mail: "file" writes each message as an .eml file into MAIL_FILE_DIR (the default in
    # development: `make run`'s mail, links and codes included, can be read there);
    # "console" logs each message and keeps it in the outbox (the default elsewhere,
    # tests); "smtp" sends through SMTP_HOST. Links in mails point at PORTAL_BASE_URL.
    mail_backend: Literal["console", "file", "smtp"] = "console"
    # Where the file backend writes (unset: DATA_DIR/mail).
    mail_file_dir: Path | None = None
    mail_from: str = "Ledgerline <no-reply@ledgerline.localhost>"
    portal_base_url: str = "http://127.0.0.1:8000"
    # How long a financing offer's mailed acceptance link works (never past its pay-on day).
    financing_offer_ttl_hours: Annotated[int, Field(ge=1, le=24 * 90)] = 72
    smtp_host: str = "localhost"
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_tls: Literal["none", "starttls", "tls"] = "starttls"
    # The sender retries a failed message with exponential backoff, this many times.
    mail_max_attempts: Annotated[int, Field(ge=1, le=50)] = 8
    mail_poll_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    # Refuse logins until the owner's email is verified (the link sent at sign-up).
    require_email_verification: bool = False

    # Uploaded invoice documents (PDF, PNG, JPEG): stored under DOCUMENT_STORAGE_DIR (unset:
    # DATA_DIR/documents), one folder per tenant, never served as static files.
    document_storage_dir: Path | None = None
    upload_max_file_bytes: Annotated[int, Field(ge=1024, le=104_857_600)] = 10_485_760
    upload_max_files: Annotated[int, Field(ge=1, le=100)] = 20
    # Background reading of uploaded documents: a failed attempt is retried with
    # exponential backoff this many times; workers look for queued documents this often.
    document_max_attempts: Annotated[int, Field(ge=1, le=50)] = 5
    document_poll_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    # Scheduled depreciation (tenants with it on): workers look for a tenant whose last
    # month is not posted yet this often.
    depreciation_poll_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0

    # Background jobs (mail outbox, document reading, event retention). `serve` runs them
    # in each API process too while this is true (development); in production set it to
    # false and run `ledgerline worker` as a process of its own.
    serve_runs_jobs: bool = True
    # Live events (WebSocket /api/v1/ws, SSE /api/v1/events; README "Live events").
    # A socket that has not authenticated within this is closed with 4401.
    events_auth_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 5.0
    # A heartbeat frame (SSE: a comment line) after this long without an event.
    events_heartbeat_seconds: Annotated[float, Field(gt=0, le=300)] = 15.0
    # Each stream's caller is re-read this often: a revoked session ends it (4401).
    events_liveness_seconds: Annotated[float, Field(gt=0, le=300)] = 2.0
    # Events that may wait unread for one connection; a reader that stays past this for
    # half a second (a burst may pass it for a moment) is dropped (4408).
    events_queue_size: Annotated[int, Field(ge=1, le=100_000)] = 256
    # Events are kept (for resume) this many days, then pruned.
    events_retention_days: Annotated[int, Field(ge=1, le=3650)] = 7
    # How often the background jobs (`ledgerline worker`, or `serve` while SERVE_RUNS_JOBS)
    # delete events past the retention.
    events_prune_interval_seconds: Annotated[float, Field(gt=0, le=86400)] = 3600.0
    # The listening connection is re-established after this, doubling up to the maximum.
    events_reconnect_min_seconds: Annotated[float, Field(gt=0, le=60)] = 0.5
    events_reconnect_max_seconds: Annotated[float, Field(gt=0, le=600)] = 10.0

    # Account lockout after consecutive failed logins.
    lockout_threshold: Annotated[int, Field(ge=1, le=100)] = 5
    lockout_minutes: Annotated[int, Field(ge=1, le=10080)] = 30

    # argon2id cost (OWASP: m=19456 KiB, t=2, p=1)
    password_argon2_memory_kib: Annotated[int, Field(ge=8)] = 19456
    password_argon2_time_cost: Annotated[int, Field(ge=1)] = 2
    password_argon2_parallelism: Annotated[int, Field(ge=1)] = 1
    # Threads that hash passwords; 0: one per core but one, so the event loop keeps one.
    password_hash_workers: Annotated[int, Field(ge=0, le=64)] = 0

    # Operations (README: "Metrics and tracing"). GET /metrics (Prometheus text format)
    # answers only when one of these is set: with METRICS_TOKEN, to `Authorization:
    # Bearer <token>`; with METRICS_ADDRESS (host:port), only on that extra listener,
    # which `serve` opens beside HOST:PORT and which serves nothing else. Both: both.
    metrics_token: SecretStr = SecretStr("")
    metrics_address: str = ""
    # OpenTelemetry: with an OTLP/HTTP collector's base URL here (http://host:4318), spans
    # of requests (FastAPI), SQL statements (SQLAlchemy) and driver calls (asyncpg) are
    # exported; the other OTEL_* variables of the SDK apply. Empty: tracing is off and
    # none of its modules is imported. Needs the `tracing` extra (ledgerline[tracing]).
    otel_exporter_otlp_endpoint: str = ""

    @field_validator("metrics_address")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        if value:
            parse_address(value)
        return value

    @field_validator("mail_file_dir", "document_storage_dir", mode="before")
    @classmethod
    def _empty_folder_is_unset(cls, value: object) -> object:
        """`MAIL_FILE_DIR=` (as in .env.example) means the default, not the current folder."""
        return None if value == "" else value

    @model_validator(mode="before")
    @classmethod
    def _mail_backend_of_the_environment(cls, data: object) -> object:
        """MAIL_BACKEND unset or empty: "file" in development, "console" elsewhere."""
        if isinstance(data, dict) and not data.get("mail_backend"):
            environment = str(data.get("environment") or Environment.DEVELOPMENT)
            development = environment.lower() == Environment.DEVELOPMENT
            return {**data, "mail_backend": "file" if development else "console"}
        return data

    @model_validator(mode="after")
    def _long_statements_are_longer(self) -> Settings:
        if self.database_long_statement_timeout_seconds < self.database_statement_timeout_seconds:
            raise ValueError(
                "DATABASE_LONG_STATEMENT_TIMEOUT_SECONDS is shorter than"
                " DATABASE_STATEMENT_TIMEOUT_SECONDS"
            )
        return self

    @model_validator(mode="after")
    def _refuse_example_secret_in_production(self) -> Settings:
        if (
            self.environment is Environment.PRODUCTION
            and self.secret_key.get_secret_value() == EXAMPLE_SECRET_KEY
        ):
            raise ValueError("SECRET_KEY is the example value; set a long random secret")
        if self.environment is Environment.PRODUCTION and len(self.secret_key) < 32:
            raise ValueError("SECRET_KEY must be at least 32 characters in production")
        if self.environment is Environment.PRODUCTION and self.mail_backend == "console":
            raise ValueError("MAIL_BACKEND=console would log login codes; use smtp in production")
        if self.environment is Environment.PRODUCTION and self.mail_backend == "file":
            raise ValueError(
                "MAIL_BACKEND=file would keep login codes on disk; use smtp in production"
            )
        if (
            self.environment is Environment.PRODUCTION
            and self.metrics_token.get_secret_value()
            and len(self.metrics_token) < 32
        ):
            raise ValueError("METRICS_TOKEN must be at least 32 characters in production")
        return self

    @property
    def rate_limit_storage_shared(self) -> bool:
        """Whether rate-limit counts live outside the process (shared by its workers)."""
        return self.rate_limit_storage_url.partition("://")[0] in SHARED_RATE_LIMIT_SCHEMES

    @property
    def metrics_listener(self) -> tuple[str, int] | None:
        """METRICS_ADDRESS as (host, port), or None when unset."""
        return parse_address(self.metrics_address) if self.metrics_address else None

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @cached_property
    def documents_dir(self) -> Path:
        return self.document_storage_dir or self.data_dir / "documents"

    @cached_property
    def mail_dir(self) -> Path:
        return self.mail_file_dir or self.data_dir / "mail"

    @cached_property
    def upload_max_body_bytes(self) -> int:
        """The body limit of an upload request: its files and the multipart framing."""
        return self.upload_max_file_bytes * self.upload_max_files + 65_536

    @cached_property
    def embedded_data_dir(self) -> Path:
        return (self.data_dir / "postgres").resolve()

    def owner_url(self) -> URL:
        if self.database_url is None:
            raise RuntimeError("DATABASE_URL is not set and the embedded server has not started")
        return as_asyncpg(make_url(self.database_url))

    def runtime_url(self) -> URL:
        return self.owner_url().set(
            username=self.database_runtime_user,
            password=self.database_runtime_password.get_secret_value() or None,
        )

    def platform_url(self) -> URL:
        return self.owner_url().set(
            username=self.database_platform_user,
            password=self.database_platform_password.get_secret_value() or None,
        )

    def direct_owner_url(self) -> URL:
        """The owner role straight to PostgreSQL (DATABASE_DIRECT_URL, else DATABASE_URL)."""
        if self.database_direct_url is None:
            return self.owner_url()
        return as_asyncpg(make_url(self.database_direct_url))

    def direct_runtime_url(self) -> URL:
        """The runtime role straight to PostgreSQL: what a LISTEN connection uses."""
        return self.direct_owner_url().set(
            username=self.database_runtime_user,
            password=self.database_runtime_password.get_secret_value() or None,
        )


def parse_address(value: str) -> tuple[str, int]:
    """ "host:port" (an IPv6 host in brackets: "[::1]:9100") as (host, port)."""
    host, separator, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not separator or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"not host:port: {value!r}")
    return host, int(port)


def as_asyncpg(url: URL) -> URL:
    """The same URL with SQLAlchemy's asyncpg driver, whatever scheme it was given in."""
    return url.set(drivername="postgresql+asyncpg")
