"""/start (registration with the signup source), /cancel, the main menu, help, /support."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from handlers import keyboards
from handlers.callbacks import MenuCB, Screen
from handlers.filters import Registered
from handlers.render import (
    banned_text,
    escape,
    leave_flow,
    show,
    support_display,
    support_hint,
    support_url,
)
from services.dto import UserDTO
from services.events import EventService
from services.i18n import Translator
from services.models import Platform
from services.users import TelegramProfile, UserService

router = Router(name="trader.start")


def support_text(t: Translator, contact: str | None, telegram_id: int) -> str:
    shown = support_display(contact)
    if shown is None:
        return t("support.not_configured")
    return t("support.text", contact=shown, id=telegram_id)


def profile_of(message: Message | CallbackQuery) -> TelegramProfile:
    sender = message.from_user
    assert sender is not None  # private chats always have a sender
    return TelegramProfile(sender.id, sender.username, sender.first_name, sender.language_code)


@router.message(Command("cancel"))
async def cmd_cancel(
    message: Message, state: FSMContext, raw_state: str | None, t: Translator,
    events: EventService,
) -> None:
    """Leaves any flow, at any step (it comes before the flows' own handlers)."""
    if raw_state is None:
        await message.answer(t("common.nothing_to_cancel"), reply_markup=keyboards.main_menu(t))
        return
    await state.clear()
    if message.from_user is not None:
        await events.record("flow_cancelled", message.from_user.id, Platform.BOT,
                            state=raw_state)
    await message.answer(t("common.cancelled"), reply_markup=keyboards.main_menu(t))


@router.message(CommandStart())
async def cmd_start(
    message: Message, command: CommandObject, state: FSMContext, raw_state: str | None,
    users: UserService, events: EventService, t: Translator, user: UserDTO | None,
    support_contact: str | None = None,
) -> None:
    await leave_flow(state, raw_state)
    if user is None:
        user, created = await users.register(profile_of(message), command.args)
    else:
        created = False
    if user.is_banned:
        await message.answer(banned_text(t, support_contact), reply_markup=keyboards.support_only(
            t, support_url(support_contact)))
        return
    await events.record("command_start", user.id, Platform.BOT, new=created)
    key = "start.welcome_new" if created else "start.welcome_back"
    await message.answer(t(key, name=escape(user.first_name)) + "\n\n" + t("menu.title"),
                         reply_markup=keyboards.main_menu(t))


@router.message(Command("menu"), Registered())
@router.callback_query(MenuCB.filter(F.screen == Screen.MAIN), Registered())
async def on_main_menu(
    event: Message | CallbackQuery, state: FSMContext, raw_state: str | None, t: Translator
) -> None:
    await leave_flow(state, raw_state)
    await show(event, t("menu.title"), keyboards.main_menu(t))


@router.message(Command("help"), Registered())
@router.callback_query(MenuCB.filter(F.screen == Screen.HELP), Registered())
async def on_help(
    event: Message | CallbackQuery, t: Translator, user: UserDTO, events: EventService,
    support_contact: str | None = None,
) -> None:
    await events.record("screen_viewed", user.id, Platform.BOT, screen="help")
    text = t("help.text") + "\n\n" + support_hint(
        t, support_contact, with_contact="help.support", without="help.support_none")
    await show(event, text, keyboards.support(t, support_url(support_contact)))


@router.message(Command("support"))
async def cmd_support(
    message: Message, t: Translator, user: UserDTO | None, events: EventService,
    support_contact: str | None = None,
) -> None:
    """For everybody, blocked or not yet registered too: it is the way to ask about either."""
    assert message.from_user is not None  # private chats always have a sender
    if user is not None:
        await events.record("command_support", user.id, Platform.BOT,
                            configured=support_contact is not None)
    markup = (keyboards.support(t, support_url(support_contact)) if user and not user.is_banned
              else keyboards.support_only(t, support_url(support_contact)))
    await message.answer(support_text(t, support_contact, message.from_user.id),
                         reply_markup=markup)
