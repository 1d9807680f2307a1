"""The bot reaches the Mini App (issue 13): the chat menu button opens the dashboard, and the
Balance and History screens carry a web_app button to the matching page in the user's
language; without a usable (https) address there are no such buttons at all. The Telegram
stand-in opens them the way a client does, with initData that webapp.auth accepts."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import SetChatMenuButton, TelegramMethod
from aiogram.types import InlineKeyboardMarkup, MenuButtonDefault, MenuButtonWebApp
from aiohttp import web

from bot.commands_menu import publish_menu_button
from bot.demo import demo_settings
from bot.settings import SettingsError, load_settings
from handlers import keyboards
from handlers.callbacks import HistoryCB, MenuCB, Screen
from sandbox.telegram import StubState, run_stub, sign_init_data
from sandbox.telegram.webapp import LAUNCH_PATH, launch_url
from services.i18n import Catalog
from tests.conftest import TEST_REDIS_URL
from tests.support.browser import chromium, chromium_or_skip
from tests.support.mocked_bot import MockedBot
from tests.support.updates import callback_update, message_update, tg_user
from webapp.auth import AuthError, verify_init_data

ROOT = Path(__file__).resolve().parents[2]
APP = "https://cr.example.com/app/"
PRODUCTION = {"PUBLIC_URL": "https://rebates.example.com", "SECRET_KEY": "k" * 32,
              "WEBHOOK_SECRET": "w" * 16}
TRADER = 777_131


def web_app_urls(markup: InlineKeyboardMarkup | None) -> list[str]:
    assert markup is not None
    return [button.web_app.url for row in markup.inline_keyboard for button in row
            if button.web_app is not None]


# --- where the Mini App is ---------------------------------------------------------------


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, None),  # polling, nothing public: no buttons
    (PRODUCTION, "https://rebates.example.com/app/"),
    ({"MINIAPP_URL": "https://cr.example.com/app"}, APP),  # "/" added: pages are <base>history
    ({**PRODUCTION, "MINIAPP_URL": APP}, APP),  # the explicit one wins
])
def test_the_miniapp_url_is_miniapp_url_else_public_url(environ: dict[str, str],
                                                        expected: str | None) -> None:
    assert load_settings(environ).miniapp_base_url == expected


def test_an_http_miniapp_url_is_refused_by_name() -> None:
    """Telegram opens only https Mini Apps: a web_app button with http is refused."""
    with pytest.raises(SettingsError, match="^MINIAPP_URL: must be an https:// URL"):
        load_settings({"MINIAPP_URL": "http://cr.example.com/app/"})


def test_the_demo_opens_the_local_web_process() -> None:
    settings = demo_settings(load_settings({"WEB_PORT": "8123", "MINIAPP_URL": APP}),
                             telegram_url="http://t", token="1:x", simulator_url="http://s")
    assert settings.miniapp_base_url == "http://127.0.0.1:8123/app/"
    anywhere = demo_settings(load_settings({"WEB_HOST": "0.0.0.0", "WEB_PORT": "8124"}),
                             telegram_url="http://t", token="1:x", simulator_url="http://s")
    assert anywhere.miniapp_base_url == "http://127.0.0.1:8124/app/"


# --- keyboards ---------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "ru"])
def test_balance_opens_the_dashboard_and_history_the_history_page(i18n: Catalog,
                                                                  locale: str) -> None:
    t = i18n.translator(locale)
    balance = keyboards.balance(t, APP)
    assert web_app_urls(balance) == [f"{APP}?lang={locale}"]
    button = next(b for row in balance.inline_keyboard for b in row if b.web_app)
    assert button.text == t("miniapp.open_dashboard")
    assert button.callback_data is None and button.url is None  # one action per button

    history = keyboards.history(t, 1, 3, APP)
    assert web_app_urls(history) == [f"{APP}history?lang={locale}"]
    assert {b.text for row in history.inline_keyboard for b in row if b.web_app} == {
        t("miniapp.open_history")}


def test_without_a_miniapp_url_there_is_no_web_app_button(i18n: Catalog) -> None:
    t = i18n.translator("en")
    assert web_app_urls(keyboards.balance(t)) == []
    assert web_app_urls(keyboards.balance(t, None)) == []
    assert web_app_urls(keyboards.history(t, 2, 3)) == []
    # The rest of the screens is unchanged.
    assert keyboards.balance(t, APP).inline_keyboard[1:] == keyboards.balance(t).inline_keyboard


def test_the_texts_exist_in_both_languages(i18n: Catalog) -> None:
    en, ru = i18n.translator("en"), i18n.translator("ru")
    assert en("miniapp.menu_button") == "Cabinet"
    assert ru("miniapp.menu_button") == "Кабинет"
    for key in ("miniapp.open_dashboard", "miniapp.open_history"):
        assert en(key) != ru(key)


async def test_the_screens_get_the_url_from_the_workflow_data(  # type: ignore[no-untyped-def]
    db, dispatcher, bot: MockedBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = tg_user(TRADER, language="ru")
    await dispatcher.feed_update(bot, message_update(user, "/start"))

    async def screen(data: str) -> list[str]:
        bot.session.clear()
        await dispatcher.feed_update(bot, callback_update(user, data))
        return web_app_urls(bot.session.sent[-1].reply_markup)

    balance, history = MenuCB(screen=Screen.BALANCE).pack(), HistoryCB(page=1).pack()
    monkeypatch.setitem(dispatcher.workflow_data, "miniapp_url", APP)
    assert await screen(balance) == [f"{APP}?lang=ru"]
    assert await screen(history) == [f"{APP}history?lang=ru"]
    monkeypatch.setitem(dispatcher.workflow_data, "miniapp_url", None)
    assert await screen(balance) == []
    assert await screen(history) == []


# --- the chat menu button ----------------------------------------------------------------


def menu_calls(bot: MockedBot) -> list[SetChatMenuButton]:
    return [call for call in bot.session.calls if isinstance(call, SetChatMenuButton)]


async def test_the_menu_button_opens_the_dashboard_for_every_private_chat(
    bot: MockedBot,
) -> None:
    await publish_menu_button(bot, Catalog.load(default_locale="ru"), APP)
    [call] = menu_calls(bot)
    assert call.chat_id is None  # the default button of all private chats
    assert isinstance(call.menu_button, MenuButtonWebApp)
    assert call.menu_button.text == "Кабинет"  # one button for all: the default locale
    assert call.menu_button.web_app.url == APP


async def test_without_a_miniapp_url_the_menu_button_is_telegrams_default(
    bot: MockedBot, i18n: Catalog
) -> None:
    """Set back, so that a button of an earlier configuration opens nothing broken."""
    await publish_menu_button(bot, i18n, None)
    [call] = menu_calls(bot)
    assert isinstance(call.menu_button, MenuButtonDefault)


async def test_a_refused_menu_button_is_logged_not_raised(
    i18n: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    class Refusing(MockedBot):
        async def __call__(self, method: TelegramMethod, request_timeout: int | None = None):  # type: ignore[no-untyped-def, override, type-arg]
            raise TelegramBadRequest(method=method, message="Bad Request: WEB_APP_URL_INVALID")

    with caplog.at_level(logging.WARNING, logger="bot.commands_menu"):
        await publish_menu_button(Refusing(), i18n, APP)
    assert "could not set the chat menu button (web_app)" in caplog.text


async def test_the_stand_in_stores_the_menu_button(i18n: Catalog) -> None:
    state = StubState()
    async with run_stub(state) as url:
        bot = Bot(state.token, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))
        try:
            await publish_menu_button(bot, i18n, APP)
            shown = await bot.get_chat_menu_button()
            assert isinstance(shown, MenuButtonWebApp)
            assert (shown.text, shown.web_app.url) == ("Cabinet", APP)
        finally:
            await bot.session.close()
        # What the chat page reads: the default button under "null" (regression: it was under
        # "None", and the page never showed the button).
        async with aiohttp.ClientSession() as http, http.get(f"{url}/stub/api/state") as page:
            world = await page.json()
        assert world["menu_buttons"] == {"null": state.menu_buttons[None]}
    assert state.menu_buttons[None] == {"type": "web_app", "text": "Cabinet",
                                        "web_app": {"url": APP}}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_START_WEB_PROCESS = """
import asyncio, json, sys
from bot.app import open_infrastructure
from bot.settings import load_settings
from bot.web_process import WebProcess
from sandbox.telegram import StubState, run_stub

async def main() -> None:
    state = StubState()
    async with run_stub(state) as url:
        settings = load_settings({
            "BOT_TOKEN": state.token, "TELEGRAM_API_URL": url, "DATABASE_URL": sys.argv[1],
            "REDIS_URL": sys.argv[2], "REDIS_PREFIX": sys.argv[3], "WEB_PORT": sys.argv[4],
            "DATA_DIR": sys.argv[5], "MINIAPP_URL": sys.argv[6], "SECRET_KEY": "k" * 32})
        infra = await open_infrastructure(settings)
        web = WebProcess(settings, infra)
        try:
            await web.start()
            # Polling has begun (stopping before it does is refused by aiogram).
            while not any(call.method.lower() == "getupdates" for call in state.calls):
                await asyncio.sleep(0.05)
            workflow = web.dispatcher.workflow_data["miniapp_url"]
        finally:
            await web.stop()
            await infra.close()
    print(json.dumps({"menu": state.menu_buttons.get(None), "workflow": workflow}))

asyncio.run(main())
"""


def test_the_web_process_sets_the_menu_button_at_start(  # type: ignore[no-untyped-def]
    orm, redis_prefix: str, tmp_path: Path
) -> None:
    """In a process of its own: the routers can join only one Dispatcher."""
    result = subprocess.run(
        [sys.executable, "-c", _START_WEB_PROCESS, orm, TEST_REDIS_URL, redis_prefix,
         str(_free_port()), str(tmp_path), APP],
        cwd=ROOT, env={"PATH": ""}, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["menu"] == {"type": "web_app", "text": "Cabinet", "web_app": {"url": APP}}
    assert seen["workflow"] == APP  # what the Balance and History handlers receive


# --- the stand-in opens a Mini App like a client -----------------------------------------


def test_the_signed_init_data_passes_the_mini_apps_check() -> None:
    now = datetime.now(UTC)
    user = {"id": TRADER, "first_name": "Алиса Б.", "username": "alice", "language_code": "ru"}
    init_data = sign_init_data("123:ABC", user, int(now.timestamp()))
    identity = verify_init_data(init_data, "123:ABC", max_age=timedelta(days=1), now=now)
    assert (identity.user_id, identity.first_name, identity.username,
            identity.language_code) == (TRADER, "Алиса Б.", "alice", "ru")
    assert {"auth_date", "query_id", "user", "hash"} == set(dict(parse_qsl(init_data)))
    with pytest.raises(AuthError) as refused:  # another bot's token
        verify_init_data(init_data, "123:XYZ", max_age=timedelta(days=1), now=now)
    assert refused.value.code == "bad_signature"


def test_the_launch_url_carries_init_data_in_the_hash_as_telegram_web_app_js_reads_it() -> None:
    """telegram-web-app.js splits location.hash on "&" and "=", %-decodes each value once
    ("+" as a space) and takes tgWebAppData as Telegram.WebApp.initData."""
    init_data = sign_init_data("1:x", {"id": 5, "first_name": "A B&C=D+"}, 1_700_000_000)
    url = launch_url(f"{APP}history?lang=en#old", init_data)
    parts = urlsplit(url)
    assert parts.query == "lang=en"
    params = dict(pair.split("=", 1) for pair in parts.fragment.split("&"))
    assert unquote(params["tgWebAppData"].replace("+", "%20")) == init_data
    assert set(params) == {"tgWebAppData", "tgWebAppVersion", "tgWebAppPlatform"}


async def test_the_chat_page_opens_a_web_app_button_signed_for_the_person() -> None:
    state = StubState()
    alice = state.add_user(TRADER, "Alice", "alice", "en")
    page = f"{APP}?lang=en"
    async with run_stub(state) as url:
        bot = Bot(state.token, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))
        try:
            await bot.send_message(alice.id, "Balance", reply_markup=keyboards.balance(
                Catalog.load().translator("en"), APP))
        finally:
            await bot.session.close()
        async with aiohttp.ClientSession() as http:
            launch = f"{url}{LAUNCH_PATH}"
            async with http.get(launch, params={"from": alice.id, "url": page},
                                allow_redirects=False) as answer:
                assert answer.status == 302
                location = answer.headers["Location"]
            # Only what the bot offered that person is signed.
            async with http.get(launch, params={"from": alice.id, "url": f"{APP}withdraw"},
                                allow_redirects=False) as refused:
                assert refused.status == 403
    assert location.startswith(f"{page}#tgWebAppData=")
    fragment = dict(pair.split("=", 1) for pair in urlsplit(location).fragment.split("&"))
    identity = verify_init_data(unquote(fragment["tgWebAppData"]), state.token,
                                max_age=timedelta(minutes=1), now=datetime.now(UTC))
    assert (identity.user_id, identity.username, identity.language_code) == (
        TRADER, "alice", "en")
    assert abs(identity.auth_date.timestamp() - time.time()) < 60


# --- in a browser: the chat page opens the Mini App with its launch data -----------------


@contextlib.asynccontextmanager
async def mini_app() -> AsyncIterator[str]:
    """A stand-in Mini App on this machine (the demo's http://127.0.0.1:<port>/app/)."""
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>Cabinet</title><p>app</p>",
                            content_type="text/html")

    app = web.Application()
    app.router.add_get("/app/{tail:.*}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/app/"
    finally:
        await runner.cleanup()


def launch_data(opened: str, token: str) -> tuple[str, int]:
    """The page a client opened and the user of its signed launch data (as the Mini App's
    server checks it, webapp.auth)."""
    page, _, fragment = opened.partition("#")
    params = dict(pair.split("=", 1) for pair in fragment.split("&"))
    identity = verify_init_data(unquote(params["tgWebAppData"].replace("+", "%20")), token,
                                max_age=timedelta(minutes=1), now=datetime.now(UTC))
    return page, identity.user_id


async def test_the_chat_page_opens_the_buttons_and_the_menu_button_as_the_person(
    i18n: Catalog,
) -> None:
    chromium_or_skip()
    state = StubState()
    state.add_user(TRADER, "Alice", "alice", "ru")
    async with mini_app() as app_url, run_stub(state) as url:
        bot = Bot(state.token, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))
        try:
            await publish_menu_button(bot, i18n, app_url)
            t = i18n.translator("ru")
            await bot.send_message(TRADER, "Баланс", reply_markup=keyboards.balance(t, app_url))
        finally:
            await bot.session.close()
        async with chromium() as browser:
            context = await browser.new_context()
            page = await context.new_page()
            page.set_default_timeout(15_000)
            await page.goto(f"{url}/stub/#from={TRADER}&chat={TRADER}")
            await page.locator(".bubble", has_text="Баланс").wait_for()
            opened = []
            for button in (page.get_by_role("button", name=t("miniapp.open_dashboard")),
                           page.locator("#menu-app")):
                async with context.expect_page() as new_tab:
                    await button.click()
                tab = await new_tab.value
                await tab.wait_for_load_state()
                assert await tab.title() == "Cabinet"
                opened.append(tab.url)
                await tab.close()
            assert await page.locator("#menu-app").text_content() == "Cabinet"
    assert launch_data(opened[0], state.token) == (f"{app_url}?lang=ru", TRADER)
    assert launch_data(opened[1], state.token) == (app_url, TRADER)
