"""Settings, read once from the environment (and an optional .env) by the composition root.

Names are flat environment variables (``BOT_TOKEN``, ``DATABASE_URL`` …) so that a deployment reads
like the README's table; per-exchange settings (``EXCHANGE_<ID>_API_URL`` …) are collected into
``Settings.exchanges``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TELEGRAM_DEFAULT_API = "https://api.telegram.org"


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it, for one clear line on stderr."""


@dataclass(frozen=True)
class ExchangeCredentials:
    api_url: str | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    api_password: SecretStr | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    bot_token: SecretStr | None = Field(default=None, description="Telegram bot token")
    telegram_api_url: str = TELEGRAM_DEFAULT_API
    database_url: str | None = None
    redis_url: str | None = None
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=1, le=65535)
    public_url: str | None = None
    webhook_secret: SecretStr | None = None
    admin_chat_id: int | None = None
    finance_chat_id: int | None = None
    admin_ids: list[int] = Field(default_factory=list)
    secret_key: SecretStr | None = None
    data_dir: Path = Path(".data")
    # Prefix of every Redis key (FSM, queues, flood control), so deployments can share a Redis.
    redis_prefix: str = Field(default="cr", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    default_locale: str = "en"
    # Flood control: at most this many updates per user in a window of that many seconds.
    flood_limit: int = Field(default=8, ge=1)
    flood_window_seconds: int = Field(default=4, ge=1)
    log_level: str = "INFO"
    # How long a starting process waits for PostgreSQL and Redis before it gives up (exit 3).
    startup_wait_seconds: int = Field(default=120, ge=0, le=3600)
    # How far back an exchange's very first sync reads (later syncs continue from the last one).
    sync_first_lookback_days: int = Field(default=30, ge=1, le=180)
    # A linked UID not found among our invitees within this many hours is rejected.
    uid_reject_after_hours: int = Field(default=72, ge=1)
    # The weekly deep re-read: how many days back, and how often (late corrections, clawbacks).
    sync_deep_reread_days: int = Field(default=35, ge=1, le=90)
    sync_deep_reread_every_days: int = Field(default=7, ge=1)

    exchanges: dict[str, ExchangeCredentials] = Field(default_factory=dict, exclude=True)
    # EXCHANGE_<ID>_REREAD_DAYS: days before the watermark that each sync reads again.
    reread_days: dict[str, int] = Field(default_factory=dict, exclude=True)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        # "1,2, 3" in the environment; a JSON list also works.
        if isinstance(value, str) and not value.strip().startswith("["):
            return [int(part) for part in value.replace(" ", "").split(",") if part]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("public_url", "telegram_api_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @property
    def web_base_url(self) -> str:
        """Where people and Telegram reach the web process (tracked links, Mini App)."""
        return self.public_url or f"http://{self.web_host}:{self.web_port}"

    @property
    def webhook_mode(self) -> bool:
        return self.public_url is not None


def _exchange_settings(environ: Mapping[str, str]) -> dict[str, ExchangeCredentials]:
    found: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        upper = name.upper()
        if not upper.startswith("EXCHANGE_") or not value:
            continue
        for suffix in ("_API_URL", "_API_KEY", "_API_SECRET", "_API_PASSWORD"):
            if upper.endswith(suffix):
                exchange_id = upper[len("EXCHANGE_") : -len(suffix)].lower()
                found.setdefault(exchange_id, {})[suffix[1:].lower()] = value
    result: dict[str, ExchangeCredentials] = {}
    for exchange_id, values in found.items():
        url = values.get("api_url")
        if url is not None and not url.startswith(("http://", "https://")):
            raise SettingsError(
                f"EXCHANGE_{exchange_id.upper()}_API_URL: must start with http:// or https://"
            )
        result[exchange_id] = ExchangeCredentials(
            api_url=url.rstrip("/") if url else None,
            api_key=SecretStr(values["api_key"]) if "api_key" in values else None,
            api_secret=SecretStr(values["api_secret"]) if "api_secret" in values else None,
            api_password=SecretStr(values["api_password"]) if "api_password" in values else None,
        )
    return result


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings once; turn pydantic's report into one line that names the setting.

    With ``environ`` given (tests), only those values count: no process environment, no .env.
    """
    env = dict(os.environ if environ is None else environ)
    try:
        settings = Settings.model_validate(_lowercase(env)) if environ is not None else Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "settings"
        raise SettingsError(f"{name}: {error['msg']}") from None
    settings.exchanges = _exchange_settings(env)
    settings.reread_days = _reread_days(env)
    return settings


def _reread_days(environ: Mapping[str, str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for name, value in environ.items():
        upper = name.upper()
        if not (upper.startswith("EXCHANGE_") and upper.endswith("_REREAD_DAYS")) or not value:
            continue
        exchange_id = upper[len("EXCHANGE_") : -len("_REREAD_DAYS")].lower()
        if not value.strip().isdigit() or not 1 <= int(value) <= 90:
            raise SettingsError(f"{upper}: a whole number of days from 1 to 90")
        found[exchange_id] = int(value)
    return found


def _lowercase(env: Mapping[str, str]) -> dict[str, str]:
    fields = Settings.model_fields
    return {
        key.lower(): value for key, value in env.items()
        if key.lower() in fields and key.lower() not in ("exchanges", "reread_days")
    }
