"""Showing a screen: edit the message a button was pressed on, or send a new one."""

from __future__ import annotations

import html

from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from services.dto import ExchangeDTO
from services.exchange_catalog import ExchangeCatalog
from services.i18n import Translator


def escape(text: str) -> str:
    """User-supplied text inside our HTML messages."""
    return html.escape(text, quote=False)


async def enabled_exchange(
    query: CallbackQuery, exchanges: ExchangeCatalog, exchange_id: str, t: Translator
) -> ExchangeDTO | None:
    """The exchange a button names, or None after telling the user it is not available (an
    operator may have disabled it since the button was drawn)."""
    exchange = await exchanges.get(exchange_id)
    if exchange is None or not exchange.enabled:
        await query.answer(t("exchanges.unavailable"), show_alert=True)
        return None
    return exchange


async def leave_flow(state: FSMContext, raw_state: str | None) -> None:
    """Leave any flow the user was in. ``raw_state`` is what aiogram read for this update:
    when there is no flow, there is nothing to write to Redis."""
    if raw_state is not None:
        await state.clear()


async def show(
    event: Message | CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    if isinstance(event, Message):
        await event.answer(text, reply_markup=markup)
        return
    message = event.message
    if isinstance(message, Message):
        try:
            await message.edit_text(text, reply_markup=markup)
        except TelegramBadRequest as exc:
            # Pressing the button of the screen already shown changes nothing; that is fine.
            if "message is not modified" not in exc.message:
                raise
    else:  # the message is too old to edit: answer with a new one
        await event.bot.send_message(event.from_user.id, text, reply_markup=markup)  # type: ignore[union-attr]
    await event.answer()
