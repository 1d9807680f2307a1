"""Commands that work everywhere and at any step: /cancel."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot import keyboards
from services.i18n import Translator

router = Router(name="common")


@router.message(Command("cancel"))
async def cmd_cancel(message: Message, state: FSMContext, t: Translator) -> None:
    if await state.get_state() is None:
        await message.answer(t("common.nothing_to_cancel"), reply_markup=keyboards.main_menu(t))
        return
    await state.clear()
    await message.answer(t("common.cancelled"), reply_markup=keyboards.main_menu(t))
