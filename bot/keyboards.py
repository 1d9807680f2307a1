"""Keyboards are pure functions: (translator, data) -> markup."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import (
    ExchangeAction,
    ExchangeCB,
    LanguageCB,
    LinkAction,
    LinkCB,
    MenuCB,
    Screen,
)
from services.dto import ExchangeDTO
from services.i18n import Translator

LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}


def _back(t: Translator, screen: Screen = Screen.MAIN) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=t("common.back"), callback_data=MenuCB(screen=screen).pack())


def main_menu(t: Translator) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("menu.exchanges"), callback_data=MenuCB(screen=Screen.EXCHANGES))
    builder.button(text=t("menu.accounts"), callback_data=MenuCB(screen=Screen.ACCOUNTS))
    builder.button(text=t("menu.balance"), callback_data=MenuCB(screen=Screen.BALANCE))
    builder.button(text=t("menu.settings"), callback_data=MenuCB(screen=Screen.SETTINGS))
    builder.button(text=t("menu.help"), callback_data=MenuCB(screen=Screen.HELP))
    builder.adjust(1, 2, 2)
    return builder.as_markup()


def exchange_list(t: Translator, exchanges: Sequence[ExchangeDTO]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for exchange in exchanges:
        builder.button(
            text=t("exchanges.button", name=exchange.name, share=exchange.trader_share_percent),
            callback_data=ExchangeCB(action=ExchangeAction.CARD, exchange_id=exchange.id),
        )
    builder.adjust(2)
    builder.row(_back(t))
    return builder.as_markup()


def exchange_card(t: Translator, exchange: ExchangeDTO, tracked_url: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.row(InlineKeyboardButton(text=t("exchange.open", name=exchange.name), url=tracked_url))
    builder.row(InlineKeyboardButton(
        text=t("exchange.existing_button"),
        callback_data=ExchangeCB(action=ExchangeAction.EXISTING, exchange_id=exchange.id).pack(),
    ))
    builder.row(InlineKeyboardButton(
        text=t("exchange.link_uid"),
        callback_data=LinkCB(action=LinkAction.PICK, exchange_id=exchange.id).pack(),
    ))
    builder.row(_back(t, Screen.EXCHANGES))
    return builder.as_markup()


def back_to_card(t: Translator, exchange_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=t("common.back"),
        callback_data=ExchangeCB(action=ExchangeAction.CARD, exchange_id=exchange_id).pack(),
    )]])


def accounts(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=t("accounts.link_button"),
                              callback_data=LinkCB(action=LinkAction.START).pack())],
        [_back(t)],
    ])


def link_pick_exchange(t: Translator, exchanges: Sequence[ExchangeDTO]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for exchange in exchanges:
        builder.button(
            text=exchange.name,
            callback_data=LinkCB(action=LinkAction.PICK, exchange_id=exchange.id),
        )
    builder.adjust(3)
    builder.row(InlineKeyboardButton(text=t("common.cancel"),
                                     callback_data=LinkCB(action=LinkAction.CANCEL).pack()))
    return builder.as_markup()


def link_cancel(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=t("common.cancel"), callback_data=LinkCB(action=LinkAction.CANCEL).pack()
    )]])


def link_confirm(t: Translator, exchange_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(
            text=t("link.confirm_button"),
            callback_data=LinkCB(action=LinkAction.CONFIRM, exchange_id=exchange_id).pack(),
        ),
        InlineKeyboardButton(
            text=t("common.cancel"), callback_data=LinkCB(action=LinkAction.CANCEL).pack()
        ),
    ]])


def after_link(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=t("menu.accounts"),
                              callback_data=MenuCB(screen=Screen.ACCOUNTS).pack())],
        [InlineKeyboardButton(text=t("common.main_menu"),
                              callback_data=MenuCB(screen=Screen.MAIN).pack())],
    ])


def settings(t: Translator, current_locale: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for locale, name in LANGUAGE_NAMES.items():
        mark = "✓ " if locale == current_locale else ""
        builder.button(text=f"{mark}{name}", callback_data=LanguageCB(locale=locale))
    builder.adjust(2)
    builder.row(_back(t))
    return builder.as_markup()


def back_to_main(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_back(t)]])
