"""Admin chat: a command or button the admin routers did not take — from someone the bot does
not know, or whose role does not allow it. Silence would leave an operator guessing: they are
told why, and the refusal is audited (services/staff.py)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from handlers.admin.filters import InAdminChat
from services.dto import UserDTO
from services.i18n import Translator
from services.staff import StaffService

router = Router(name="admin.strangers")
router.message.filter(InAdminChat(), F.text.startswith("/") | F.caption.startswith("/"))
router.callback_query.filter(InAdminChat())


@router.message()
async def on_command_of_a_stranger(message: Message, t: Translator, user: UserDTO | None,
                                   staff: StaffService) -> None:
    if message.from_user is not None:
        command = (message.text or message.caption or "").split(maxsplit=1)[0]
        await staff.audit_refused_command(message.from_user.id, command)
    if user is None:
        await message.reply(t("admin.stranger.unknown"))
    elif user.is_banned:
        return
    else:
        await message.reply(t("admin.stranger.no_role"))


@router.callback_query()
async def on_button_of_a_stranger(query: CallbackQuery, t: Translator, user: UserDTO | None,
                                  staff: StaffService) -> None:
    await staff.audit_refused_command(query.from_user.id, f"button:{query.data or ''}")
    await query.answer(t("admin.stranger.unknown" if user is None else "admin.stranger.no_role"),
                       show_alert=True)
