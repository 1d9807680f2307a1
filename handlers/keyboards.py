"""Keyboards are pure functions: (translator, data) -> markup.

Built as plain InlineKeyboardMarkup rows: aiogram's InlineKeyboardBuilder deep-copies every
button on export, which cost more than the rest of a menu press together (bench/).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from handlers.callbacks import (
    CsvAction,
    CsvCB,
    DigestCB,
    DisputeCB,
    ExchangeAction,
    ExchangeCB,
    HistoryCB,
    LanguageCB,
    LinkAction,
    LinkCB,
    MenuCB,
    Screen,
)
from handlers.money import trader_share
from services.dto import ExchangeDTO
from services.i18n import Translator
from services.models import DigestMode

LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _grid(buttons: Sequence[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + width]) for i in range(0, len(buttons), width)]


def _back(t: Translator, screen: Screen = Screen.MAIN) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=t("common.back"), callback_data=MenuCB(screen=screen).pack())


def main_menu(t: Translator) -> InlineKeyboardMarkup:
    def item(key: str, screen: Screen) -> InlineKeyboardButton:
        return _button(t(key), MenuCB(screen=screen))

    return InlineKeyboardMarkup(inline_keyboard=[
        [item("menu.exchanges", Screen.EXCHANGES)],
        [item("menu.accounts", Screen.ACCOUNTS), item("menu.balance", Screen.BALANCE)],
        [item("menu.withdraw", Screen.WITHDRAW)],
        [item("menu.settings", Screen.SETTINGS), item("menu.help", Screen.HELP)],
    ])


def exchange_list(t: Translator, exchanges: Sequence[ExchangeDTO]) -> InlineKeyboardMarkup:
    buttons = [
        _button(t("exchanges.button", name=exchange.name, share=trader_share(exchange, t.locale)),
                ExchangeCB(action=ExchangeAction.CARD, exchange_id=exchange.id))
        for exchange in exchanges
    ]
    return InlineKeyboardMarkup(inline_keyboard=[*_grid(buttons, 2), [_back(t)]])


def exchange_card(t: Translator, exchange: ExchangeDTO, tracked_url: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=t("exchange.open", name=exchange.name), url=tracked_url)],
        [_button(t("exchange.existing_button"),
                 ExchangeCB(action=ExchangeAction.EXISTING, exchange_id=exchange.id))],
        [_button(t("exchange.link_uid"), LinkCB(action=LinkAction.PICK, exchange_id=exchange.id))],
        [_back(t, Screen.EXCHANGES)],
    ])


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
    buttons = [_button(exchange.name, LinkCB(action=LinkAction.PICK, exchange_id=exchange.id))
               for exchange in exchanges]
    return InlineKeyboardMarkup(inline_keyboard=[
        *_grid(buttons, 3), [_button(t("common.cancel"), LinkCB(action=LinkAction.CANCEL))],
    ])


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


def after_link(t: Translator, support_url: str | None = None) -> InlineKeyboardMarkup:
    """After the UID flow; ``support_url`` when the outcome asks to write to support."""
    return InlineKeyboardMarkup(inline_keyboard=[
        *_support_row(t, support_url),
        [InlineKeyboardButton(text=t("menu.accounts"),
                              callback_data=MenuCB(screen=Screen.ACCOUNTS).pack())],
        [InlineKeyboardButton(text=t("common.main_menu"),
                              callback_data=MenuCB(screen=Screen.MAIN).pack())],
    ])


def uid_taken(t: Translator, exchange_id: str, uid: str,
              support_url: str | None = None) -> InlineKeyboardMarkup:
    """Under "this UID is linked to another account": claim it, write to support, or leave."""
    return InlineKeyboardMarkup(inline_keyboard=[
        [_button(t("dispute.button"), DisputeCB(exchange_id=exchange_id, uid=uid))],
        *_support_row(t, support_url),
        [InlineKeyboardButton(text=t("menu.accounts"),
                              callback_data=MenuCB(screen=Screen.ACCOUNTS).pack())],
    ])


def settings(
    t: Translator, current_locale: str, digest_mode: DigestMode = DigestMode.ON
) -> InlineKeyboardMarkup:
    languages = [
        _button(("✓ " if locale == current_locale else "") + name, LanguageCB(locale=locale))
        for locale, name in LANGUAGE_NAMES.items()
    ]
    digest = [
        _button(("✓ " if mode == digest_mode else "") + t(f"settings.digest.{mode.value}"),
                DigestCB(mode=mode))
        for mode in DigestMode
    ]
    return InlineKeyboardMarkup(inline_keyboard=[languages, digest, [_back(t)]])


def _miniapp_row(t: Translator, key: str, miniapp_url: str | None,
                 page: str = "") -> list[list[InlineKeyboardButton]]:
    """A button opening the Mini App's ``page`` in the user's language; none without an
    address (Telegram refuses a web_app button without an https URL: no broken button)."""
    if miniapp_url is None:
        return []
    url = f"{miniapp_url}{page}?lang={t.locale}"
    return [[InlineKeyboardButton(text=t(key), web_app=WebAppInfo(url=url))]]


def balance(t: Translator, miniapp_url: str | None = None) -> InlineKeyboardMarkup:
    """``miniapp_url``: the Mini App's address ending in "/" (None: no "Open dashboard")."""
    return InlineKeyboardMarkup(inline_keyboard=[
        *_miniapp_row(t, "miniapp.open_dashboard", miniapp_url),
        [_button(t("balance.history_button"), HistoryCB(page=1))],
        [_button(t("menu.withdraw"), MenuCB(screen=Screen.WITHDRAW))],
        [_back(t)],
    ])


def history(t: Translator, page: int, pages: int,
            miniapp_url: str | None = None) -> InlineKeyboardMarkup:
    paging = []
    if page > 1:
        paging.append(_button(t("history.newer"), HistoryCB(page=page - 1)))
    if page < pages:
        paging.append(_button(t("history.older"), HistoryCB(page=page + 1)))
    return InlineKeyboardMarkup(inline_keyboard=[
        *([paging] if paging else []),
        *_miniapp_row(t, "miniapp.open_history", miniapp_url, "history"),
        [_button(t("history.back"), MenuCB(screen=Screen.BALANCE))],
    ])


def csv_confirm(t: Translator, token: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        _button(t("admin.csv.import_button"), CsvCB(action=CsvAction.IMPORT, token=token)),
        _button(t("common.cancel"), CsvCB(action=CsvAction.CANCEL, token=token)),
    ]])


def back_to_main(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_back(t)]])


def _support_row(t: Translator, support_url: str | None) -> list[list[InlineKeyboardButton]]:
    if support_url is None:
        return []
    return [[InlineKeyboardButton(text=t("support.button"), url=support_url)]]


def support(t: Translator, support_url: str | None) -> InlineKeyboardMarkup:
    """Help and /support: a button that opens the support chat (when there is one), Back."""
    return InlineKeyboardMarkup(inline_keyboard=[*_support_row(t, support_url), [_back(t)]])


def support_only(t: Translator, support_url: str | None) -> InlineKeyboardMarkup | None:
    """Under a message that says "write to support" and offers nothing else (blocked)."""
    rows = _support_row(t, support_url)
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None
