"""Admin chat: a broadcast to traders (services/broadcasts.py). Admins only. Compose the text in
English, then in Russian (or /skip: English for everyone) → a preview in each language →
choose the audience (all, a language, an exchange, active in 30 days), shown with its size →
Send; /cancel at any step. The chat then gets a progress message, edited by the worker as the
outbox delivers (bot/broadcast_jobs.py), ending with sent / blocked / failed."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from handlers.admin.filters import Allowed, InAdminChat
from handlers.callbacks import BroadcastCB
from handlers.render import escape
from services.broadcasts import MAX_TEXT, Audience, BroadcastService
from services.dto import UserDTO
from services.exchange_catalog import ExchangeCatalog
from services.i18n import Translator
from services.permissions import Permission

router = Router(name="admin.broadcast")
router.message.filter(InAdminChat(), Allowed(Permission.BROADCAST))
router.callback_query.filter(InAdminChat(), Allowed(Permission.BROADCAST))


class Compose(StatesGroup):
    english = State()
    russian = State()
    audience = State()


def _button(text: str, data: BroadcastCB) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


async def _audiences(t: Translator, exchanges: ExchangeCatalog) -> InlineKeyboardMarkup:
    rows = [[_button(t("admin.broadcast.to_all"), BroadcastCB(action="audience", kind="all")),
             _button(t("admin.broadcast.to_active"),
                     BroadcastCB(action="audience", kind="active"))],
            [_button(t("admin.broadcast.to_language", language=code.upper()),
                     BroadcastCB(action="audience", kind="language", value=code))
             for code in ("en", "ru")]]
    listed = [e for e in await exchanges.list() if e.enabled]
    for start in range(0, len(listed), 4):
        rows.append([_button(e.name, BroadcastCB(action="audience", kind="exchange", value=e.id))
                     for e in listed[start:start + 4]])
    rows.append([_button(t("admin.broadcast.cancel"), BroadcastCB(action="cancel"))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


@router.message(Command("broadcast"))
async def cmd_broadcast(message: Message, t: Translator, state: FSMContext) -> None:
    await state.set_state(Compose.english)
    await message.answer(t("admin.broadcast.ask_en"))


@router.message(Command("cancel"), StateFilter(Compose))
async def cmd_cancel(message: Message, t: Translator, state: FSMContext) -> None:
    await state.clear()
    await message.answer(t("admin.broadcast.cancelled"))


@router.message(Compose.english, F.text)
async def got_english(message: Message, t: Translator, state: FSMContext) -> None:
    text = message.text or ""
    if text.startswith("/") or len(text) > MAX_TEXT:
        await message.answer(t("admin.broadcast.bad_text", max=MAX_TEXT))
        return
    await state.update_data(en=text)
    await state.set_state(Compose.russian)
    await message.answer(t("admin.broadcast.ask_ru"))


@router.message(Compose.russian, F.text)
async def got_russian(message: Message, t: Translator, state: FSMContext,
                      exchanges: ExchangeCatalog) -> None:
    text = message.text or ""
    if text == "/skip":
        text = ""
    elif text.startswith("/") or len(text) > MAX_TEXT:
        await message.answer(t("admin.broadcast.bad_text", max=MAX_TEXT))
        return
    data = await state.update_data(ru=text)
    await state.set_state(Compose.audience)
    await message.answer(t("admin.broadcast.preview", en=escape(data["en"]),
                           ru=escape(text or data["en"])),
                         reply_markup=await _audiences(t, exchanges))


@router.callback_query(BroadcastCB.filter(F.action == "cancel"))
async def on_cancel(query: CallbackQuery, t: Translator, state: FSMContext) -> None:
    await state.clear()
    if isinstance(query.message, Message):
        await query.message.edit_text(t("admin.broadcast.cancelled"))
    await query.answer()


@router.callback_query(BroadcastCB.filter(F.action == "audience"))
async def on_audience(query: CallbackQuery, callback_data: BroadcastCB, t: Translator,
                      state: FSMContext, broadcasts: BroadcastService) -> None:
    if await state.get_state() != Compose.audience.state:  # an old preview's button
        await query.answer(t("admin.broadcast.expired"), show_alert=True)
        return
    audience = Audience(callback_data.kind, callback_data.value)
    count = await broadcasts.count(audience)
    await state.update_data(kind=audience.kind, value=audience.value)
    markup = InlineKeyboardMarkup(inline_keyboard=[[
        _button(t("admin.broadcast.send", count=count), BroadcastCB(action="send")),
        _button(t("admin.broadcast.cancel"), BroadcastCB(action="cancel"))]])
    if isinstance(query.message, Message):
        await query.message.answer(t("admin.broadcast.confirm", count=count,
                                     audience=_audience_words(t, audience)),
                                   reply_markup=markup if count else None)
    await query.answer()


@router.callback_query(BroadcastCB.filter(F.action == "send"))
async def on_send(query: CallbackQuery, t: Translator, user: UserDTO, state: FSMContext,
                  broadcasts: BroadcastService) -> None:
    data = await state.get_data()
    if (await state.get_state() != Compose.audience.state or "kind" not in data
            or not isinstance(query.message, Message)):
        await query.answer(t("admin.broadcast.expired"), show_alert=True)
        return
    await state.clear()  # before sending: a second press finds no broadcast to start
    texts = {"en": data["en"], **({"ru": data["ru"]} if data.get("ru") else {})}
    started = await broadcasts.start(user.id, texts, Audience(data["kind"], data["value"]))
    progress = await query.message.answer(t("admin.broadcast.progress", sent=0, blocked=0,
                                            failed=0, total=started.recipients))
    await broadcasts.set_progress_message(started.id, progress.chat.id, progress.message_id)
    await query.answer(t("admin.broadcast.started"))


def _audience_words(t: Translator, audience: Audience) -> str:
    if audience.kind in ("language", "exchange"):
        return t(f"admin.broadcast.audience.{audience.kind}", value=escape(audience.value))
    return t(f"admin.broadcast.audience.{audience.kind}")
