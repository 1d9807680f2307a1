"""Balance. Earnings arrive with the exchange sync and the ledger; until a trader has any, this
screen says how they will come."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery

from bot import keyboards
from bot.callbacks import MenuCB, Screen
from handlers.filters import Registered
from handlers.render import show
from services.dto import UserDTO
from services.events import EventService
from services.i18n import Translator
from services.models import Platform

router = Router(name="trader.balance")
router.callback_query.filter(F.message.chat.type == "private", Registered())


@router.callback_query(MenuCB.filter(F.screen == Screen.BALANCE))
async def on_balance(
    query: CallbackQuery, t: Translator, user: UserDTO, events: EventService
) -> None:
    await events.record("screen_viewed", user.id, Platform.BOT, screen="balance")
    await show(query, t("balance.title") + "\n\n" + t("balance.empty"), keyboards.back_to_main(t))
