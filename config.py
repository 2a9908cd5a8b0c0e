"""Every setting of the product, read once from the environment (see README)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me"
MIN_SECRET_BYTES = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    cadence_env: Literal["development", "test", "production"] = "development"  # production fails closed
    cadence_api_host: str = "127.0.0.1"
    cadence_api_port: int = 8000
    cadence_data_dir: Path = Path(".data")
    cadence_public_url: str = "http://127.0.0.1:8000"
    cadence_secret_key: SecretStr = SecretStr(DEV_SECRET)
    cadence_default_timezone: str = "UTC"
    cadence_inbound_domain: str = "reply.cadence.local"
    cadence_from_email: str = "sales@cadence.local"
    cadence_from_name: str = "Cadence"
    cadence_quiet_days: int = 30  # in_process with no two-way contact this long -> nurture
    cadence_ooo_default_days: int = 7  # out-of-office pause when no return date is found

    # Identities: the first admin key and user, made at start-up when given (see README).
    cadence_bootstrap_api_key: SecretStr | None = None
    cadence_first_admin_email: str | None = None
    cadence_first_admin_password: SecretStr | None = None
    cadence_session_hours: int = 12  # a UI login lasts this long
    # Rate limits in the `limits` notation; storage "memory://" per process, or e.g. "redis://host:6379".
    cadence_rate_limit: str = "600/minute"  # per API key or UI session
    cadence_signal_rate_limit: str = "60/minute"  # per lead, whoever signals it
    cadence_login_rate_limit: str = "5/15minutes"  # failed logins per email address (and x4 per client)
    cadence_rate_limit_storage: str = "memory://"
    cadence_max_body_bytes: int = 1_000_000  # request bodies above this are a 413
    # Payload encryption of Temporal history: "id:base64(32 bytes),id2:..."; the first encrypts,
    # all decrypt (rotation). Unset outside production: a key derived from CADENCE_SECRET_KEY.
    cadence_payload_keys: SecretStr | None = None
    # Origins allowed to call /codec/* from a browser (the Temporal Web UI).
    cadence_codec_origins: list[str] = ["http://127.0.0.1:8233", "http://localhost:8233"]

    temporal_address: str = "127.0.0.1:7233"
    temporal_ui_port: int = 8233
    temporal_namespace: str = "default"
    temporal_task_queue: str = "cadence"
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool = False
    # Lead imports (POST /imports) run on a task queue of their own, default "<TEMPORAL_TASK_QUEUE>-import",
    # so a big list never waits in line before an inbound lead's work.
    temporal_import_task_queue: str | None = None
    cadence_import_batch_size: int = Field(100, ge=1, le=1000)  # rows per batch activity
    # Seconds between the cadence starts of two imported leads: spreads a list's first touches.
    cadence_import_start_interval: float = Field(2.0, ge=0, le=3600)
    cadence_import_batches_per_run: int = Field(200, ge=1, le=10000)  # then the import continues as new

    database_url: str | None = None  # default: SQLite file in the data dir

    sendgrid_api_key: SecretStr | None = None  # unset -> emails go to the outbox table
    sendgrid_host: str = "https://api.sendgrid.com"
    sendgrid_timeout_seconds: float = 10.0  # connect and each read; below the send activity's 60 s
    sendgrid_webhook_public_key: str | None = None
    sendgrid_inbound_public_key: str | None = None  # where the account signs Inbound Parse
    cadence_inbound_parse_user: str | None = None  # HTTP Basic credentials in the Parse URL
    cadence_inbound_parse_password: SecretStr | None = None
    dialer_webhook_secret: SecretStr | None = None

    # Outbound webhooks (README "Webhooks out"): their own task queue, so a slow receiver never
    # holds up a lead's cadence; exponential back-off from the first interval up to the longest,
    # for at most the give-up time, then the endpoint is marked failing.
    temporal_webhook_task_queue: str = "cadence-webhooks"
    cadence_webhook_retry_first_seconds: float = 5.0
    cadence_webhook_retry_max_seconds: float = 3600.0
    cadence_webhook_give_up_seconds: float = 86400.0  # a day
    cadence_webhook_timeout_seconds: float = 10.0  # per request
    cadence_webhook_sweep_seconds: int = 60  # how often deliveries whose start was lost are started
    cadence_webhook_retention_days: int = 30  # deliveries and their events are deleted after this
    # Metrics: /metrics takes an admin or ops key, or this bearer token (for Prometheus).
    cadence_metrics_token: SecretStr | None = None
    cadence_worker_metrics_port: int | None = None  # the worker's Temporal SDK metrics; unset: off
    cadence_worker_metrics_host: str = "127.0.0.1"
    # The worker's capacity (README "Worker capacity"), per worker process. The defaults were
    # measured on a 2-core machine (docs/performance.md).
    cadence_worker_max_concurrent_workflow_tasks: int = Field(100, ge=2, le=2000)
    cadence_worker_max_concurrent_activities: int = Field(32, ge=1, le=1000)  # = the lead activities' threads
    # The sticky cache: workflows kept in memory between their tasks. It bounds the worker's memory
    # however many leads wait; one evicted is replayed from its history when its next task comes.
    cadence_worker_max_cached_workflows: int = Field(100, ge=0, le=100_000)
    cadence_worker_workflow_task_pollers: int = Field(5, ge=2, le=100)
    cadence_worker_activity_task_pollers: int = Field(5, ge=1, le=100)
    cadence_worker_import_threads: int = Field(2, ge=1, le=64)  # lead imports' activities
    cadence_worker_webhook_threads: int = Field(16, ge=1, le=256)  # webhook deliveries' activities
    cadence_workers: int = Field(1, ge=1, le=32)  # worker processes `make run` starts

    @field_validator("cadence_webhook_retry_first_seconds", "cadence_webhook_retry_max_seconds",
                     "cadence_webhook_give_up_seconds", "cadence_webhook_timeout_seconds",
                     "cadence_webhook_sweep_seconds", "cadence_webhook_retention_days")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than 0")
        return value

    @model_validator(mode="after")
    def _retries_grow(self) -> "Settings":
        if self.cadence_webhook_retry_max_seconds < self.cadence_webhook_retry_first_seconds:
            raise ValueError("CADENCE_WEBHOOK_RETRY_MAX_SECONDS must be at least CADENCE_WEBHOOK_RETRY_FIRST_SECONDS")
        return self

    @field_validator("cadence_default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r}") from exc
        return value

    @field_validator("cadence_bootstrap_api_key")
    @classmethod
    def _long_bootstrap_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_BYTES:
            raise ValueError(f"CADENCE_BOOTSTRAP_API_KEY must be at least {MIN_SECRET_BYTES} characters")
        return value

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> "Settings":
        if self.cadence_env == "production":
            secret = self.cadence_secret_key.get_secret_value()
            if secret == DEV_SECRET or len(secret.encode()) < MIN_SECRET_BYTES:
                raise ValueError(f"CADENCE_SECRET_KEY must be set in production, at least {MIN_SECRET_BYTES} bytes")
        return self

    def secret(self) -> str:
        """The key that signs tokens and sessions."""
        return self.cadence_secret_key.get_secret_value()

    @property
    def import_task_queue(self) -> str:
        return self.temporal_import_task_queue or f"{self.temporal_task_queue}-import"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.cadence_data_dir / 'cadence.db'}"


def api_production_problems(settings: Settings) -> list[str]:
    """What the API refuses to start without in production, each naming its setting."""
    if settings.cadence_env != "production":
        return []
    missing = {
        "SENDGRID_WEBHOOK_PUBLIC_KEY": settings.sendgrid_webhook_public_key,
        "CADENCE_INBOUND_PARSE_USER": settings.cadence_inbound_parse_user,
        "CADENCE_INBOUND_PARSE_PASSWORD": settings.cadence_inbound_parse_password,
        "DIALER_WEBHOOK_SECRET": settings.dialer_webhook_secret,
        "CADENCE_PAYLOAD_KEYS": settings.cadence_payload_keys,
    }
    return [f"{name} must be set when CADENCE_ENV=production" for name, value in missing.items() if not value]


@lru_cache
def get_settings() -> Settings:
    return Settings()
