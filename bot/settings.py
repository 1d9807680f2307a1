"""Settings, read once by the composition root from the environment and an optional ``.env``.

Names are flat environment variables (``BOT_TOKEN``, ``DATABASE_URL`` …) so that a deployment reads
like the README's table; per-exchange settings (``EXCHANGE_<ID>_API_URL`` …) are collected into
``Settings.exchanges`` and ``Settings.reread_days``.

Where the values come from is decided in one place, ``read_environment``, for every setting
alike (the EXCHANGE_<ID>_* family included): the process environment over the ``.env`` file of
the working directory, as pydantic-settings orders them, and an empty value is "not set" (so the
``NAME=`` lines of a copied ``.env.example`` mean the defaults). The model itself reads nothing
(see ``settings_customise_sources``): it validates what it is given, so a test passes a dict and
sees exactly that.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from services.i18n import SUPPORTED_LOCALES

TELEGRAM_DEFAULT_API = "https://api.telegram.org"
ENV_FILE = Path(".env")
# EXCHANGE_<ID>_<suffix>: the per-exchange family (README's table and .env.example list them).
EXCHANGE_PREFIX = "EXCHANGE_"
EXCHANGE_CREDENTIALS = ("API_URL", "API_KEY", "API_SECRET", "API_PASSWORD")
EXCHANGE_REREAD_DAYS = "REREAD_DAYS"
EXCHANGE_SUFFIXES = (*EXCHANGE_CREDENTIALS, EXCHANGE_REREAD_DAYS)
# In production the master key encrypts exchange API keys at rest and signs tracked links.
SECRET_KEY_MIN_LENGTH = 32
WEBHOOK_SECRET_MIN_LENGTH = 16
# What Telegram accepts as a webhook's secret_token (setWebhook): 1-256 of A-Z a-z 0-9 _ -.
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
# A Telegram username: 5-32 of letters, digits and underscores, starting with a letter.
_TELEGRAM_USERNAME = re.compile(r"@[A-Za-z][A-Za-z0-9_]{4,31}")
_URL_WITH_HOST = re.compile(r"https?://[^\s/?#]+[^\s]*")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_NEW_KEY_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it, for one clear line on stderr."""


@dataclass(frozen=True)
class ExchangeCredentials:
    api_url: str | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    api_password: SecretStr | None = None


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not _URL_WITH_HOST.fullmatch(value):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    bot_token: SecretStr | None = Field(default=None, description="Telegram bot token")
    telegram_api_url: str = TELEGRAM_DEFAULT_API
    database_url: str | None = None
    redis_url: str | None = None
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=1, le=65535)
    # The worker's Prometheus metrics (sync, ledger check, payouts) on 127.0.0.1; 0 turns it off.
    worker_metrics_port: int = Field(default=9101, ge=0, le=65535)
    public_url: str | None = None
    webhook_secret: SecretStr | None = None
    # Base of the tracked links traders get (/r/<code>); PUBLIC_URL when unset.
    link_base_url: str | None = None
    # The Mini App's address (web_app buttons, the chat menu button); PUBLIC_URL/app/ when
    # unset. Telegram opens only https:// Mini Apps.
    miniapp_url: str | None = None
    # Where traders reach a human: a Telegram @username or an https:// URL.
    support_contact: str | None = None
    admin_chat_id: int | None = None
    finance_chat_id: int | None = None
    admin_ids: list[int] = Field(default_factory=list)
    secret_key: SecretStr | None = None
    # The master key(s) before the last change of SECRET_KEY, comma-separated: the exchange
    # credentials stored under them still decrypt, and are re-encrypted under SECRET_KEY at the
    # worker's start (services/credentials.py). Unset once that has run.
    secret_key_previous: SecretStr | None = None
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
    # The web process's connections for the Mini App dashboard's reads: about twice the
    # database's cores (more queries at once than its cores can run only queue there, and
    # cost the web process more per answer; bench/bench_miniapp.py).
    database_reads_pool: int = Field(default=8, ge=1, le=100)
    # How far back an exchange's very first sync reads (later syncs continue from the last one).
    sync_first_lookback_days: int = Field(default=30, ge=1, le=180)
    # A linked UID not found among our invitees within this many hours is rejected.
    uid_reject_after_hours: int = Field(default=72, ge=1)
    # The weekly deep re-read: how many days back, and how often (late corrections, clawbacks).
    sync_deep_reread_days: int = Field(default=35, ge=1, le=90)
    sync_deep_reread_every_days: int = Field(default=7, ge=1)
    # How old the Mini App's initData (and the Login Widget's data) may be; Telegram sets no
    # limit ("to prevent the use of outdated data", check auth_date). Also the session's life.
    miniapp_auth_max_age_seconds: int = Field(default=86400, ge=60)
    # A manual ledger adjustment above this many USDT needs a second, different admin. An
    # environment setting, not a row the admin screens edit: the rule that stops one admin
    # moving money alone must not be one that admin can lift alone.
    adjust_second_admin_above: Decimal = Field(default=Decimal("100"), ge=0, le=1_000_000)

    exchanges: dict[str, ExchangeCredentials] = Field(default_factory=dict, exclude=True)
    # EXCHANGE_<ID>_REREAD_DAYS: days before the watermark that each sync reads again.
    reread_days: dict[str, int] = Field(default_factory=dict, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what load_settings passes: the environment and .env are read by
        # read_environment, once, for the model and the EXCHANGE_<ID>_* family alike.
        return (init_settings,)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        # "1,2, 3" in the environment; a JSON list also works.
        if isinstance(value, str) and not value.strip().startswith("["):
            return [int(part) for part in value.replace(" ", "").split(",") if part]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("public_url", "telegram_api_url", "link_base_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return _http_url(value)

    @field_validator("miniapp_url")
    @classmethod
    def _check_miniapp_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith("https://") or not _URL_WITH_HOST.fullmatch(value):
            raise ValueError("must be an https:// URL (Telegram opens only https Mini Apps)")
        return value.rstrip("/") + "/"  # pages are <base>history, <base>withdraw …

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("1-256 characters of A-Z a-z 0-9 _ - only (what Telegram accepts)")
        return value

    @field_validator("support_contact")
    @classmethod
    def _check_support_contact(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if _TELEGRAM_USERNAME.fullmatch(value):
            return value
        if value.startswith("https://") and _URL_WITH_HOST.fullmatch(value):
            return value
        raise ValueError("a Telegram @username (5-32 letters, digits, _) or an https:// URL")

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in _LOG_LEVELS:
            raise ValueError(f"one of {', '.join(_LOG_LEVELS)}")
        return level

    @field_validator("default_locale")
    @classmethod
    def _check_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        """With PUBLIC_URL set (production, webhook mode) both secrets must be real ones."""
        if not self.webhook_mode:
            return self
        key = self.secret_key.get_secret_value() if self.secret_key is not None else ""
        if not key:
            raise ValueError(
                f"SECRET_KEY: required when PUBLIC_URL is set (production): at least "
                f"{SECRET_KEY_MIN_LENGTH} random characters, e.g. from {_NEW_KEY_HINT}")
        if len(key) < SECRET_KEY_MIN_LENGTH:
            raise ValueError(
                f"SECRET_KEY: {len(key)} characters is too short for production (PUBLIC_URL "
                f"is set): at least {SECRET_KEY_MIN_LENGTH}, e.g. from {_NEW_KEY_HINT}")
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
        if len(secret) < WEBHOOK_SECRET_MIN_LENGTH:
            said = "required" if not secret else f"{len(secret)} characters is too short"
            raise ValueError(
                f"WEBHOOK_SECRET: {said} when PUBLIC_URL is set (webhook mode): "
                f"{WEBHOOK_SECRET_MIN_LENGTH}-256 characters of A-Z a-z 0-9 _ -")
        return self

    @property
    def web_base_url(self) -> str:
        """Where people and Telegram reach the web process (Mini App, the demo's banner)."""
        return self.public_url or f"http://{self.web_host}:{self.web_port}"

    @property
    def miniapp_base_url(self) -> str | None:
        """The Mini App's address, ending in "/" (its pages are ``<base>history`` …):
        MINIAPP_URL, else PUBLIC_URL/app/ (https in production), else None: no web_app buttons
        and no menu button (Telegram refuses a web_app button without an https URL)."""
        if self.miniapp_url is not None:
            return self.miniapp_url
        if self.public_url is not None and self.public_url.startswith("https://"):
            return f"{self.public_url}/app/"
        return None

    @property
    def tracked_link_base_url(self) -> str:
        """The base of the tracked links traders get: LINK_BASE_URL, else PUBLIC_URL, else the
        local web address (reachable only from where the web process runs; see
        ``links_reach_only_this_host``)."""
        return self.link_base_url or self.web_base_url

    @property
    def links_reach_only_this_host(self) -> bool:
        return self.link_base_url is None and self.public_url is None

    @property
    def webhook_mode(self) -> bool:
        return self.public_url is not None


def require_for_command(settings: Settings, command: str) -> None:
    """What a command needs beyond a valid Settings, checked before it starts anything."""
    if command == "run" and settings.bot_token is None:
        raise SettingsError(
            "BOT_TOKEN: required by `python -m bot run` (the token from @BotFather; "
            "`python -m bot demo` needs none)")


def read_environment(
    environ: Mapping[str, str] | None = None, env_file: Path | None = None,
) -> dict[str, str]:
    """The raw values, names upper-cased: ``env_file``'s lines overlaid by ``environ`` (the
    process environment when None, and then ``./.env`` when no ``env_file`` is given). An
    empty value in either is "not set": it neither counts nor hides the other's value."""
    if environ is None:
        environ = os.environ
        env_file = ENV_FILE if env_file is None else env_file
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update(_set_values(dotenv_values(env_file)))
    values.update(_set_values(environ))
    return values


def _set_values(source: Mapping[str, str | None]) -> dict[str, str]:
    return {name.upper(): value for name, value in source.items()
            if value is not None and value.strip()}


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: Path | None = None,
) -> Settings:
    """Build Settings once; turn pydantic's report into one line that names the setting.

    With ``environ`` given (tests), only those values count (and ``env_file``'s, if given): no
    process environment, no ./.env. Without it: the process environment over ./.env."""
    env = read_environment(environ, env_file)
    try:
        settings = Settings(**_model_values(env))
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None
    settings.exchanges = _exchange_settings(env)
    settings.reread_days = _reread_days(env)
    return settings


def _one_line(exc: ValidationError) -> str:
    """The first error, named; never the value given (it may be a secret)."""
    errors = exc.errors()
    first = errors[0]
    message = first["msg"].removeprefix("Value error, ")
    if first["loc"]:
        message = f"{str(first['loc'][0]).upper()}: {message}"
    others = sorted({str(error["loc"][0]).upper() for error in errors[1:] if error["loc"]})
    if others:
        message += f" (also wrong: {', '.join(others)})"
    return message


def _model_values(env: Mapping[str, str]) -> dict[str, Any]:
    fields = Settings.model_fields
    return {
        name.lower(): value for name, value in env.items()
        if name.lower() in fields and name.lower() not in ("exchanges", "reread_days")
    }


def _exchange_part(name: str, suffix: str) -> str | None:
    """The exchange id of ``EXCHANGE_<ID>_<suffix>``, lower-cased; None for other names."""
    tail = f"_{suffix}"
    if not (name.startswith(EXCHANGE_PREFIX) and name.endswith(tail)):
        return None
    exchange_id = name[len(EXCHANGE_PREFIX) : -len(tail)]
    return exchange_id.lower() or None


def _exchange_settings(environ: Mapping[str, str]) -> dict[str, ExchangeCredentials]:
    found: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        for suffix in EXCHANGE_CREDENTIALS:
            exchange_id = _exchange_part(name, suffix)
            if exchange_id is not None:
                found.setdefault(exchange_id, {})[suffix.lower()] = value
    result: dict[str, ExchangeCredentials] = {}
    for exchange_id, values in found.items():
        try:
            url = _http_url(values.get("api_url"))
        except ValueError as exc:
            raise SettingsError(f"EXCHANGE_{exchange_id.upper()}_API_URL: {exc}") from None

        def secret(key: str, values: dict[str, str] = values) -> SecretStr | None:
            return SecretStr(values[key]) if key in values else None

        result[exchange_id] = ExchangeCredentials(
            api_url=url, api_key=secret("api_key"), api_secret=secret("api_secret"),
            api_password=secret("api_password"),
        )
    return result


def _reread_days(environ: Mapping[str, str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for name, value in environ.items():
        exchange_id = _exchange_part(name, EXCHANGE_REREAD_DAYS)
        if exchange_id is None:
            continue
        if not value.strip().isdigit() or not 1 <= int(value) <= 90:
            raise SettingsError(f"{name}: a whole number of days from 1 to 90")
        found[exchange_id] = int(value)
    return found
