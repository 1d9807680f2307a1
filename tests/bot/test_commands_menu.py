"""The command menu (setMyCommands): traders' commands in private chats, per language; the
operators' in the admin chat; and every command a handler takes is in a menu."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.methods import SetMyCommands, TelegramMethod
from aiogram.types import BotCommandScopeAllPrivateChats, BotCommandScopeChat

from bot.commands_menu import ADMIN_COMMANDS, TRADER_COMMANDS, publish_commands
from sandbox.telegram import StubState, run_stub
from services.i18n import Catalog
from tests.support.mocked_bot import MockedBot

ADMIN_CHAT = -100500


def set_commands(bot: MockedBot) -> list[SetMyCommands]:
    return [call for call in bot.session.calls if isinstance(call, SetMyCommands)]


def described(call: SetMyCommands) -> dict[str, str]:
    return {command.command: command.description for command in call.commands}


async def test_private_chats_get_the_trader_menu_per_language_and_the_admin_chat_its_own(
    bot: MockedBot, i18n: Catalog
) -> None:
    await publish_commands(bot, i18n, ADMIN_CHAT)

    calls = set_commands(bot)
    private = {call.language_code: call for call in calls
               if isinstance(call.scope, BotCommandScopeAllPrivateChats)}
    admin = {call.language_code: call for call in calls
             if isinstance(call.scope, BotCommandScopeChat)}
    assert set(private) == set(admin) == {None, "en", "ru"}  # None: any other language
    assert len(calls) == 6
    assert all(call.scope.chat_id == ADMIN_CHAT for call in admin.values())  # type: ignore[union-attr]

    assert [c.command for c in private["en"].commands] == list(TRADER_COMMANDS)
    assert {"start", "menu", "help", "support", "cancel"} <= set(TRADER_COMMANDS)
    assert described(private["en"])["support"] == "Contact support"
    assert described(private["ru"])["support"] == "Связаться с поддержкой"
    assert described(private[None]) == described(private["en"])  # the default locale

    assert [c.command for c in admin["en"].commands] == list(ADMIN_COMMANDS)
    assert "/import <exchange>" in described(admin["en"])["import"]
    assert described(admin["ru"])["status"] == "Биржи: статус синхронизации"


async def test_without_an_admin_chat_only_private_menus_are_set(
    bot: MockedBot, i18n: Catalog
) -> None:
    await publish_commands(bot, i18n, None)
    calls = set_commands(bot)
    assert len(calls) == 3
    assert all(isinstance(call.scope, BotCommandScopeAllPrivateChats) for call in calls)


async def test_a_refused_admin_chat_does_not_keep_the_trader_menu_from_being_set(
    bot: MockedBot, i18n: Catalog, monkeypatch: Any
) -> None:
    recorded = bot.session.make_request

    async def refuse_the_admin_chat(bot_: Bot, method: TelegramMethod[Any],
                                    timeout: int | None = None) -> Any:  # noqa: ASYNC109
        if isinstance(method, SetMyCommands) and isinstance(method.scope, BotCommandScopeChat):
            raise TelegramBadRequest(method, "Bad Request: chat not found")
        return await recorded(bot_, method, timeout)

    monkeypatch.setattr(bot.session, "make_request", refuse_the_admin_chat)
    await publish_commands(bot, i18n, ADMIN_CHAT)  # no exception: logged
    calls = set_commands(bot)
    assert [type(call.scope) for call in calls] == [BotCommandScopeAllPrivateChats] * 3


def _commands_of(router: Router) -> set[str]:
    names: set[str] = set()
    for handler in router.message.handlers:
        for flt in handler.filters or ():
            if isinstance(flt.callback, Command):
                names |= {str(c) for c in flt.callback.commands}
    return names


def _walk(router: Router) -> list[Router]:
    return [router, *(r for sub in router.sub_routers for r in _walk(sub))]


def test_every_command_a_handler_takes_is_in_its_menu(dispatcher: Dispatcher) -> None:
    """A command added without a menu entry (or a menu entry without a handler) fails here."""
    trader: set[str] = set()
    admin: set[str] = set()
    for router in _walk(dispatcher):
        (admin if (router.name or "").startswith("admin") else trader).update(
            _commands_of(router))
    assert trader == set(TRADER_COMMANDS)  # CommandStart is a Command("start")
    # /import is a document caption, not a Command filter.
    assert admin == set(ADMIN_COMMANDS) - {"import"}


async def test_the_telegram_stand_in_keeps_the_menus(i18n: Catalog) -> None:
    state = StubState()
    async with run_stub(state) as url:
        session = AiohttpSession(api=TelegramAPIServer.from_base(url))
        bot = Bot(state.token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
        try:
            await publish_commands(bot, i18n, ADMIN_CHAT)
            russian = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(),
                                                language_code="ru")
            operators = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=ADMIN_CHAT))
        finally:
            await bot.session.close()
    assert len(state.commands) == 6
    assert [c.command for c in russian] == list(TRADER_COMMANDS)
    assert {c.command: c.description for c in russian}["menu"] == "Главное меню"
    assert [c.command for c in operators] == list(ADMIN_COMMANDS)
