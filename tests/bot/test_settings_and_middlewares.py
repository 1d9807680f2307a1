from __future__ import annotations

from typing import Any

import pytest
from aiogram.types import Update

from bot.settings import SettingsError, load_settings
from handlers.middlewares import FloodControlMiddleware
from tests.support.updates import message_update, tg_user


def test_settings_read_names_from_the_environment() -> None:
    settings = load_settings({
        "BOT_TOKEN": "1:x", "ADMIN_IDS": "1, 2,3", "WEB_PORT": "9000",
        "EXCHANGE_BYBIT_API_URL": "http://127.0.0.1:8900/", "EXCHANGE_BYBIT_API_KEY": "k",
        "EXCHANGE_OKX_API_PASSWORD": "hunter2-secret",
    })
    assert settings.admin_ids == [1, 2, 3]
    assert settings.web_port == 9000
    assert settings.exchanges["bybit"].api_url == "http://127.0.0.1:8900"
    assert settings.exchanges["bybit"].api_key is not None
    assert settings.exchanges["bybit"].api_key.get_secret_value() == "k"
    assert settings.exchanges["okx"].api_password is not None
    assert "hunter2" not in repr(settings.exchanges["okx"])  # secrets never print
    assert not settings.webhook_mode
    assert settings.web_base_url == "http://127.0.0.1:9000"


@pytest.mark.parametrize(("environ", "named"), [
    ({"WEB_PORT": "eighty"}, "WEB_PORT"),
    ({"WEB_PORT": "70000"}, "WEB_PORT"),
    ({"PUBLIC_URL": "example.com"}, "PUBLIC_URL"),
    ({"ADMIN_IDS": "1,x"}, "ADMIN_IDS"),
    ({"EXCHANGE_OKX_API_URL": "ftp://x"}, "EXCHANGE_OKX_API_URL"),
])
def test_a_bad_setting_is_named_in_one_line(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(environ)
    message = str(error.value)
    assert message.startswith(named) and "\n" not in message


async def test_flood_control_drops_updates_over_the_limit(redis, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    middleware = FloodControlMiddleware(redis, limit=3, window=60, prefix=redis_prefix)
    handled: list[int] = []

    async def handler(event: Update, data: dict[str, Any]) -> None:
        handled.append(event.update_id)

    flooder, calm = tg_user(1), tg_user(2)
    for _ in range(5):
        update = message_update(flooder, "spam")
        await middleware(handler, update, {"event_from_user": flooder})
    await middleware(handler, message_update(calm, "hi"), {"event_from_user": calm})
    assert len(handled) == 4  # three of the flooder's, and the other user's one
