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


def _username(contact: str) -> str | None:
    """The Telegram username in ``@name`` (or ``name``), if that is what it is."""
    name = contact.removeprefix("@")
    return name if name and all(c.isascii() and (c.isalnum() or c == "_") for c in name) else None


def support_url(contact: str | None) -> str | None:
    """Where a "write to support" button leads: the https URL as configured, or the t.me link
    of a Telegram @username. None when there is no contact (or it is neither)."""
    contact = (contact or "").strip()
    if contact.startswith("https://"):
        return contact
    name = _username(contact)
    return f"https://t.me/{name}" if name else None


def support_display(contact: str | None) -> str | None:
    """The contact as written in a message (escaped): ``@username`` or the URL as given."""
    contact = (contact or "").strip()
    if not contact:
        return None
    name = None if contact.startswith("https://") else _username(contact)
    return escape(f"@{name}" if name else contact)


def support_hint(t: Translator, contact: str | None, *, with_contact: str, without: str) -> str:
    """The "write to support" sentence of a message: the text ``with_contact`` naming the
    contact when there is one; otherwise ``without``, which says plainly that there is none."""
    shown = support_display(contact)
    return t(without) if shown is None else t(with_contact, contact=shown)


def banned_text(t: Translator, contact: str | None) -> str:
    """What a blocked user is told, with the way to contest it."""
    return t("common.banned") + " " + support_hint(
        t, contact, with_contact="support.if_mistake", without="support.if_mistake_none")


ALERT_LIMIT = 200  # Telegram's limit for the text of a callback answer


def banned_alert(t: Translator, contact: str | None) -> str:
    """The same for a button press: an alert is plain text of at most 200 characters."""
    text = html.unescape(banned_text(t, contact))
    if len(text) > ALERT_LIMIT:  # a long support URL: point to /support instead
        text = t("common.banned") + " " + t("support.see_command")
    return text
