"""Every setting of the product, read once from the environment (see README)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    cadence_env: str = "development"  # "production" refuses dev defaults
    cadence_api_host: str = "127.0.0.1"
    cadence_api_port: int = 8000
    cadence_data_dir: Path = Path(".data")
    cadence_public_url: str = "http://127.0.0.1:8000"
    cadence_secret_key: str = DEV_SECRET
    cadence_default_timezone: str = "UTC"
    cadence_inbound_domain: str = "reply.cadence.local"
    cadence_from_email: str = "sales@cadence.local"
    cadence_from_name: str = "Cadence"
    cadence_quiet_days: int = 30  # in_process with no two-way contact this long -> nurture
    cadence_ooo_default_days: int = 7  # out-of-office pause when no return date is found

    temporal_address: str = "127.0.0.1:7233"
    temporal_ui_port: int = 8233
    temporal_namespace: str = "default"
    temporal_task_queue: str = "cadence"
    temporal_api_key: str | None = None
    temporal_tls: bool = False

    database_url: str | None = None  # default: SQLite file in the data dir

    sendgrid_api_key: str | None = None  # unset -> emails go to the outbox table
    sendgrid_host: str = "https://api.sendgrid.com"
    sendgrid_webhook_public_key: str | None = None
    dialer_webhook_secret: str | None = None

    @field_validator("cadence_default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> "Settings":
        if self.cadence_env == "production" and self.cadence_secret_key == DEV_SECRET:
            raise ValueError("CADENCE_SECRET_KEY must be set in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.cadence_data_dir / 'cadence.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
