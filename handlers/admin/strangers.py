"""Admin chat: a command from someone the admin routers did not take. Silence would leave an
operator who never pressed /start (or whose role is missing) guessing; they are told why."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import Message

from handlers.admin.filters import InAdminChat
from services.dto import UserDTO
from services.i18n import Translator

router = Router(name="admin.strangers")
router.message.filter(InAdminChat(), F.text.startswith("/") | F.caption.startswith("/"))


@router.message()
async def on_command_of_a_stranger(message: Message, t: Translator, user: UserDTO | None) -> None:
    if user is None:
        await message.reply(t("admin.stranger.unknown"))
    elif user.is_banned:
        return
    else:
        await message.reply(t("admin.stranger.no_role"))
