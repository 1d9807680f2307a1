"""/start (registration with the signup source), /cancel, the main menu, help."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from handlers import keyboards
from handlers.callbacks import MenuCB, Screen
from handlers.filters import Registered
from handlers.render import escape, leave_flow, show
from services.dto import UserDTO
from services.events import EventService
from services.i18n import Translator
from services.models import Platform
from services.users import TelegramProfile, UserService

router = Router(name="trader.start")


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
) -> None:
    await leave_flow(state, raw_state)
    if user is None:
        user, created = await users.register(profile_of(message), command.args)
    else:
        created = False
    if user.is_banned:
        await message.answer(t("common.banned"))
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
    event: Message | CallbackQuery, t: Translator, user: UserDTO, events: EventService
) -> None:
    await events.record("screen_viewed", user.id, Platform.BOT, screen="help")
    await show(event, t("help.text"), keyboards.back_to_main(t))
