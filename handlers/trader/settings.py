"""Settings: the language (English, Russian) and the daily rebate digest (on, silent, off)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery

from handlers import keyboards
from handlers.callbacks import DigestCB, LanguageCB, MenuCB, Screen
from handlers.render import show
from services.dto import UserDTO
from services.events import EventService
from services.i18n import Catalog, Translator
from services.models import Platform
from services.users import UserService

router = Router(name="trader.settings")


def settings_text(t: Translator, user: UserDTO) -> str:
    """What is set now, in words: the language by its own name (English / Русский)."""
    language = keyboards.LANGUAGE_NAMES.get(t.locale, t.locale)
    mode = t(f"settings.digest.{user.digest_mode.value}")
    return "\n".join([t("settings.title"), "", t("settings.language", language=language),
                      t("settings.digest", mode=mode)])


@router.callback_query(MenuCB.filter(F.screen == Screen.SETTINGS))
async def on_settings(
    query: CallbackQuery, t: Translator, user: UserDTO, events: EventService
) -> None:
    await events.record("screen_viewed", user.id, Platform.BOT, screen="settings")
    await show(query, settings_text(t, user), keyboards.settings(t, t.locale, user.digest_mode))


@router.callback_query(LanguageCB.filter())
async def on_language(
    query: CallbackQuery, callback_data: LanguageCB, user: UserDTO, users: UserService,
    i18n: Catalog,
) -> None:
    if callback_data.locale not in i18n.locales:
        await query.answer()
        return
    user = await users.set_locale(user.id, callback_data.locale)
    t = i18n.translator(callback_data.locale)  # answer in the language just chosen
    await show(query, settings_text(t, user) + "\n\n" + t("settings.saved"),
               keyboards.settings(t, callback_data.locale, user.digest_mode))


@router.callback_query(DigestCB.filter())
async def on_digest_mode(
    query: CallbackQuery, callback_data: DigestCB, user: UserDTO, users: UserService,
    t: Translator,
) -> None:
    user = await users.set_digest_mode(user.id, callback_data.mode)
    await show(query, settings_text(t, user) + "\n\n" + t("settings.saved"),
               keyboards.settings(t, t.locale, user.digest_mode))
