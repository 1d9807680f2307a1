"""The command menu Telegram shows next to the message field (setMyCommands).

Traders see their commands in every private chat, in their Telegram language (English and
Russian; any other language gets the default locale's list). The admin chat sees the operators'
commands instead. Telegram keeps the menu until it is set again, so the web process publishes it
at every start: a new command reaches the menu with the release that adds it.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
)

from services.i18n import Catalog

log = logging.getLogger(__name__)

# In menu order. The handlers' Command filters are checked against these lists (tests).
TRADER_COMMANDS = ("menu", "withdraw", "help", "support", "cancel", "start")
# /import is the caption of a CSV document; its menu entry says so.
ADMIN_COMMANDS = ("status", "sync", "import", "estimate")

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
