"""The command menu Telegram shows next to the message field (setMyCommands).

Traders see their commands in every private chat, in their Telegram language (English and
Russian; any other language gets the default locale's list). The admin chat sees the operators'
commands instead. Telegram keeps the menu until it is set again, so the web process publishes it
at every start: a new command reaches the menu with the release that adds it.

The chat menu button (setChatMenuButton, the default for every private chat) opens the Mini App's
dashboard when the Mini App has an address (MINIAPP_URL, or PUBLIC_URL/app/); without one it is
set back to Telegram's default, so that a button from an earlier configuration does not open a
Mini App that is no longer there.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    MenuButtonDefault,
    MenuButtonWebApp,
    WebAppInfo,
)

from services.i18n import Catalog

log = logging.getLogger(__name__)

# In menu order. The handlers' Command filters are checked against these lists (tests).
TRADER_COMMANDS = ("menu", "withdraw", "help", "support", "cancel", "start")
# /import is the caption of a CSV document; its menu entry says so.
ADMIN_COMMANDS = ("stats", "user", "status", "sync", "import", "estimate", "share", "group",
                  "member", "role", "broadcast", "cancel")

Scope = BotCommandScopeAllPrivateChats | BotCommandScopeChat


def menu(i18n: Catalog, locale: str, audience: str) -> list[BotCommand]:
    """The commands of ``audience`` ("trader" or "admin") described in ``locale``."""
    t = i18n.translator(locale)
    names = TRADER_COMMANDS if audience == "trader" else ADMIN_COMMANDS
    return [BotCommand(command=name, description=t(f"commands.{audience}.{name}"))
            for name in names]


async def publish_commands(bot: Bot, i18n: Catalog, admin_chat_id: int | None) -> None:
    """Set the menu for private chats (per language, and a default) and for the admin chat.

    A refusal is logged, not raised: the bot works without its menu, and one bad scope (an
    admin chat the bot was removed from) must not keep the others from being set.
    """
    scopes: list[tuple[Scope, str]] = [(BotCommandScopeAllPrivateChats(), "trader")]
    if admin_chat_id is not None:
        scopes.append((BotCommandScopeChat(chat_id=admin_chat_id), "admin"))
    for scope, audience in scopes:
        # No language_code: the list for languages we have no catalog for (default locale).
        for language in (None, *i18n.locales):
            commands = menu(i18n, language or i18n.default_locale, audience)
            try:
                await bot.set_my_commands(commands, scope=scope, language_code=language)
            except TelegramAPIError as exc:
                log.warning("could not set the %s command menu (%s): %s",
                            audience, language or "default", exc)


def menu_button(i18n: Catalog, miniapp_url: str | None) -> MenuButtonWebApp | MenuButtonDefault:
    """The default chat menu button: "Cabinet" opening the dashboard, or Telegram's default.

    One button for every private chat (Telegram has no per-language menu button), so its text
    is in the default locale; the page itself follows the user's language."""
    if miniapp_url is None:
        return MenuButtonDefault()
    t = i18n.translator(i18n.default_locale)
    return MenuButtonWebApp(text=t("miniapp.menu_button"), web_app=WebAppInfo(url=miniapp_url))


async def publish_menu_button(bot: Bot, i18n: Catalog, miniapp_url: str | None) -> None:
    """Set the default chat menu button; a refusal is logged, not raised (the bot works
    without it, and the Mini App stays reachable from the Balance and History screens)."""
    button = menu_button(i18n, miniapp_url)
    try:
        await bot.set_chat_menu_button(menu_button=button)
    except TelegramAPIError as exc:
        log.warning("could not set the chat menu button (%s): %s",
                    "web_app" if miniapp_url else "default", exc)
