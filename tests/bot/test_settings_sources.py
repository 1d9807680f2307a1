"""Where settings come from and what counts as set: the process environment over ./.env, for
every setting (the EXCHANGE_<ID>_* family too); an empty value is "not set"; production (a
PUBLIC_URL) needs real secrets; LINK_BASE_URL and SUPPORT_CONTACT."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import build_services, resolve_secret_key
from bot.settings import Settings, SettingsError, load_settings
from tests.e2e.processes import ROOT

FIELDS = [name for name in Settings.model_fields if name not in ("exchanges", "reread_days")]
STRONG_KEY = "k" * 32
PRODUCTION = {"PUBLIC_URL": "https://rebates.example.com", "SECRET_KEY": STRONG_KEY,
              "WEBHOOK_SECRET": "Webhook_secret-0123"}


def one_line_naming(environ: dict[str, str], named: str) -> str:
    with pytest.raises(SettingsError) as error:
        load_settings(environ)
    message = str(error.value)
    assert message.startswith(f"{named}: "), message
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", [name.upper() for name in FIELDS])
def test_an_empty_value_is_not_set_for_every_setting(name: str) -> None:
    """Regression: `ADMIN_IDS=`, `PUBLIC_URL=`, `ADMIN_CHAT_ID=` (as .env.example ships them)
    failed to parse; `SECRET_KEY=` became an empty master key."""
    assert load_settings({name: ""}) == load_settings({})
    assert load_settings({name: "  "}) == load_settings({})


def test_the_env_example_as_shipped_means_the_defaults() -> None:
    shipped = load_settings({}, env_file=ROOT / ".env.example")
    assert shipped == load_settings({})
    assert shipped.secret_key is None and shipped.public_url is None
    assert shipped.admin_ids == [] and shipped.admin_chat_id is None


def test_a_given_environ_is_all_that_counts(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    """Regression: the model read the process environment (and ./.env) for whatever a test's
    dict left out."""
    monkeypatch.setenv("BOT_TOKEN", "1:from-the-process")
    monkeypatch.setenv("EXCHANGE_OKX_API_KEY", "process-key")
    (tmp_path / ".env").write_text("WEB_PORT=9999\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.bot_token is None and settings.web_port == 8080
    assert settings.exchanges == {}


def test_the_env_file_is_read_and_the_process_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text(
        "BOT_TOKEN=1:from-dotenv\nWEB_PORT=9001\nLOG_LEVEL=debug\nADMIN_IDS=\n"
        "EXCHANGE_OKX_API_KEY=dotenv-key\nEXCHANGE_OKX_API_SECRET=dotenv-secret\n"
        "EXCHANGE_OKX_REREAD_DAYS=5\nEXCHANGE_BYBIT_API_URL=http://127.0.0.1:8900/bybit/\n"
    )
    monkeypatch.chdir(tmp_path)
    for name in ("BOT_TOKEN", "WEB_PORT", "LOG_LEVEL", "EXCHANGE_OKX_API_KEY",
                 "EXCHANGE_OKX_API_SECRET", "EXCHANGE_OKX_REREAD_DAYS",
                 "EXCHANGE_BYBIT_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WEB_PORT", "9002")
    monkeypatch.setenv("EXCHANGE_OKX_API_KEY", "process-key")
    monkeypatch.setenv("EXCHANGE_OKX_API_SECRET", "")  # empty: does not hide .env's value
    settings = load_settings()
    assert settings.bot_token is not None
    assert settings.bot_token.get_secret_value() == "1:from-dotenv"
    assert settings.web_port == 9002
    assert settings.log_level == "DEBUG"
    okx = settings.exchanges["okx"]
    assert okx.api_key is not None and okx.api_key.get_secret_value() == "process-key"
    assert okx.api_secret is not None and okx.api_secret.get_secret_value() == "dotenv-secret"
    assert settings.reread_days == {"okx": 5}
    assert settings.exchanges["bybit"].api_url == "http://127.0.0.1:8900/bybit"


def test_an_explicit_env_file_under_a_given_environ(tmp_path: Path) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text("EXCHANGE_BITGET_REREAD_DAYS=0\n")
    one_line = str(pytest.raises(SettingsError, load_settings, {}, env_file=env_file).value)
    assert one_line.startswith("EXCHANGE_BITGET_REREAD_DAYS: ")
    assert load_settings({"EXCHANGE_BITGET_REREAD_DAYS": "4"},
                         env_file=env_file).reread_days == {"bitget": 4}


def test_a_production_configuration_with_real_secrets_loads() -> None:
    settings = load_settings(PRODUCTION)
    assert settings.webhook_mode
    assert resolve_secret_key(settings) == STRONG_KEY.encode()


@pytest.mark.parametrize(("change", "named"), [
    ({"SECRET_KEY": ""}, "SECRET_KEY"),  # regression: an empty key was taken as the key
    ({"SECRET_KEY": None}, "SECRET_KEY"),
    ({"SECRET_KEY": "k" * 31}, "SECRET_KEY"),
    ({"WEBHOOK_SECRET": ""}, "WEBHOOK_SECRET"),  # regression: the route was left out silently
    ({"WEBHOOK_SECRET": None}, "WEBHOOK_SECRET"),
    ({"WEBHOOK_SECRET": "w" * 15}, "WEBHOOK_SECRET"),
    ({"WEBHOOK_SECRET": "has spaces and ~ in it"}, "WEBHOOK_SECRET"),
    ({"WEBHOOK_SECRET": "w" * 257}, "WEBHOOK_SECRET"),
])
def test_production_needs_real_secrets(change: dict[str, str | None], named: str) -> None:
    environ = {key: value for key, value in {**PRODUCTION, **change}.items() if value is not None}
    message = one_line_naming(environ, named)
    for secret in (environ.get("SECRET_KEY"), environ.get("WEBHOOK_SECRET")):
        assert not secret or secret not in message  # never the value itself


def test_a_webhook_secret_telegram_would_refuse_is_refused_in_polling_too() -> None:
    one_line_naming({"WEBHOOK_SECRET": "not/allowed"}, "WEBHOOK_SECRET")
    assert load_settings({"SECRET_KEY": "short-is-fine-in-development"}).secret_key is not None


@pytest.mark.parametrize(("environ", "named"), [
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ({"DEFAULT_LOCALE": "xx"}, "DEFAULT_LOCALE"),
    ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL"),
    ({"LINK_BASE_URL": "rebates.example.com"}, "LINK_BASE_URL"),
    ({"SUPPORT_CONTACT": "support"}, "SUPPORT_CONTACT"),
    ({"SUPPORT_CONTACT": "@abc"}, "SUPPORT_CONTACT"),
    ({"SUPPORT_CONTACT": "http://help.example.com"}, "SUPPORT_CONTACT"),
    ({"SUPPORT_CONTACT": "https://"}, "SUPPORT_CONTACT"),
])
def test_more_bad_settings_are_named(environ: dict[str, str], named: str) -> None:
    one_line_naming(environ, named)


def test_several_bad_settings_are_all_named_in_the_one_line() -> None:
    message = one_line_naming({"WEB_PORT": "x", "FLOOD_LIMIT": "0", "LOG_LEVEL": "LOUD"},
                              "WEB_PORT")
    assert "FLOOD_LIMIT" in message and "LOG_LEVEL" in message


@pytest.mark.parametrize("contact", ["@cr_support", "https://t.me/cr_support",
                                     "https://help.example.com/rebates"])
def test_support_contact_accepts_a_username_or_an_https_url(contact: str) -> None:
    assert load_settings({"SUPPORT_CONTACT": contact}).support_contact == contact
    assert load_settings({}).support_contact is None


@pytest.mark.parametrize(("environ", "links"), [
    ({}, "http://127.0.0.1:8080"),  # the local fallback: `run` warns about it
    ({"WEB_HOST": "0.0.0.0", "WEB_PORT": "8081"}, "http://0.0.0.0:8081"),
    ({"LINK_BASE_URL": "https://go.example.com/"}, "https://go.example.com"),
    (PRODUCTION, "https://rebates.example.com"),
    ({**PRODUCTION, "LINK_BASE_URL": "https://go.example.com"}, "https://go.example.com"),
])
def test_tracked_links_use_link_base_url_then_public_url(environ: dict[str, str],
                                                         links: str) -> None:
    """Regression: without PUBLIC_URL traders got links to WEB_HOST:WEB_PORT, with no way to
    give the public address and no word about it."""
    settings = load_settings(environ)
    assert settings.links_reach_only_this_host == (links.startswith("http://"))
    url = build_services(settings, b"k").referrals.tracked_url("okx", 35)
    assert url.startswith(f"{links}/r/okx-z-")


def test_the_demo_links_open_on_this_machine() -> None:
    from bot.demo import demo_settings

    settings = demo_settings(load_settings({"WEB_PORT": "8123"}), telegram_url="http://t",
                             token="1:x", simulator_url="http://s")
    assert settings.tracked_link_base_url == "http://127.0.0.1:8123"
    assert not settings.links_reach_only_this_host  # so the demo does not warn


def test_support_contact_reaches_handlers_as_data() -> None:
    """create_dispatcher puts SUPPORT_CONTACT into the workflow data as ``support_contact``
    (in a process of its own: the routers can join only one Dispatcher)."""
    code = (
        "from redis.asyncio import Redis\n"
        "from bot.app import build_services, create_dispatcher\n"
        "from bot.settings import load_settings\n"
        "from services.i18n import Catalog\n"
        "settings = load_settings({'SUPPORT_CONTACT': '@cr_support'})\n"
        "dp = create_dispatcher(redis=Redis(), settings=settings, i18n=Catalog.load(),\n"
        "                       services=build_services(settings, b'k'))\n"
        "print(dp.workflow_data['support_contact'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={"PATH": ""},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "@cr_support"
