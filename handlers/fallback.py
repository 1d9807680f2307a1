"""Last router: whatever nobody else took in a private chat."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from handlers import keyboards
from handlers.render import banned_alert, banned_text, support_url
from services.dto import UserDTO
from services.i18n import Translator
from services.users import TelegramProfile, UserService

router = Router(name="fallback")
router.message.filter(F.chat.type == "private")
router.callback_query.filter(F.message.chat.type == "private")


def _profile(event: Message | CallbackQuery) -> TelegramProfile:
    sender = event.from_user
    assert sender is not None
    return TelegramProfile(sender.id, sender.username, sender.first_name, sender.language_code)


@router.message()
async def on_unknown_message(
    message: Message, t: Translator, user: UserDTO | None, users: UserService,
    support_contact: str | None = None,
) -> None:
    if user is None:  # wrote before pressing /start: register them as organic
        user, _ = await users.register(_profile(message), None)
    if user.is_banned:
        await message.answer(banned_text(t, support_contact),
                             reply_markup=keyboards.support_only(t, support_url(support_contact)))
        return
    await message.answer(t("common.unknown"), reply_markup=keyboards.main_menu(t))


@router.callback_query()
async def on_unknown_button(
    query: CallbackQuery, t: Translator, user: UserDTO | None,
    support_contact: str | None = None,
) -> None:
    # An old button of a screen that changed, or a press before /start.
    text = (banned_alert(t, support_contact) if user and user.is_banned
            else t("common.stale_button"))
    await query.answer(text, show_alert=True)
