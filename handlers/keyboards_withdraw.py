"""Keyboards and screen texts of the withdrawal flow: pure functions of (translator, data), and
the short forms of addresses and fee rules they show."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.callbacks import (
    AutoAction,
    AutoCB,
    MenuCB,
    Screen,
    WithdrawAction,
    WithdrawalAction,
    WithdrawalCB,
    WithdrawCB,
)
from handlers.money import moment, money
from handlers.render import escape
from services.i18n import Translator
from services.models import PayoutMethod, WithdrawalStatus
from services.payouts.config import NetworkDTO
from services.payouts.requests import AddressDTO
from services.payouts.views import WithdrawalDTO
from services.payouts.wording import fee_rule


def short_address(address: str) -> str:
    """``TR7NHq…Lj6t``: enough to recognise an address, not to copy one."""
    return address if len(address) <= 14 else f"{address[:6]}…{address[-4:]}"


def where(t: Translator, data: dict[str, Any]) -> str:
    """The destination of the flow's data: the address and network, or the UID and exchange."""
    if data["method"] == PayoutMethod.INTERNAL.value:
        return t("withdraw.to_internal", uid=escape(data["uid"]), name=data["exchange_name"])
    return t("withdraw.to_address", address=escape(data["address"]),
             network=data["network_name"])


def render_summary(t: Translator, data: dict[str, Any]) -> str:
    """The numbers to confirm: amount, fee, net, destination and when it would arrive."""
    locale = t.locale
    timing = "withdraw.timing_review" if data["approvals"] else "withdraw.timing_auto"
    return t("withdraw.summary", amount=money(Decimal(data["amount"]), locale),
             fee=money(Decimal(data["fee"]), locale), net=money(Decimal(data["net"]), locale),
             destination=where(t, data), timing=t(timing))


def render_recent(t: Translator, withdrawals: Sequence[WithdrawalDTO],
                  names: dict[str, str]) -> str:
    """My withdrawals: one line each; ``names`` are the exchanges' names by id."""
    if not withdrawals:
        return t("withdraw.list_title") + "\n\n" + t("withdraw.list_empty")
    lines = [t("withdraw.list_title"), ""]
    for w in withdrawals:
        to = (short_address(w.address) if w.address else t(
            "withdraw.uid_at", uid=escape(w.to_uid or ""), name=names.get(w.exchange_id,
                                                                          w.exchange_id)))
        lines.append(t("withdraw.list_line", id=w.id, date=moment(w.created_at, t.locale),
                       amount=money(w.amount, t.locale), destination=escape(to),
                       status=t(f"withdraw.status.{w.status.value}")))
    if any(w.status is WithdrawalStatus.AWAITING_APPROVAL for w in withdrawals):
        lines += ["", t("withdraw.list_cancel_hint")]
    return "\n".join(lines)


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _cancel(t: Translator) -> InlineKeyboardButton:
    return _button(t("withdraw.cancel_button"), WithdrawCB(action=WithdrawAction.CANCEL))


def _mine(t: Translator) -> InlineKeyboardButton:
    return _button(t("withdraw.my_button"), WithdrawalCB(action=WithdrawalAction.LIST))


def _menu(t: Translator, key: str, screen: Screen) -> InlineKeyboardButton:
    return _button(t(key), MenuCB(screen=screen))


def methods(t: Translator, internal: Sequence[tuple[str, str, str]],
            networks: Sequence[NetworkDTO]) -> InlineKeyboardMarkup:
    """The trader's own exchange accounts first (``(exchange id, name, UID)``: no network fee),
    then the enabled networks; My withdrawals; Back."""
    rows = [[_button(t("withdraw.method.internal", name=name, uid=uid),
                     WithdrawCB(action=WithdrawAction.INTERNAL, exchange_id=exchange_id))]
            for exchange_id, name, uid in internal]
    rows += [[_button(t("withdraw.method.network", name=network.name,
                        min=money(network.min_amount, t.locale), fee=fee_rule(t, network)),
                      WithdrawCB(action=WithdrawAction.NETWORK, network_id=network.id))]
             for network in networks]
    return InlineKeyboardMarkup(inline_keyboard=[
        *rows, [_mine(t)], [_auto(t)], [_menu(t, "common.back", Screen.MAIN)]])


def _auto(t: Translator) -> InlineKeyboardButton:
    return _button(t("auto.button"), AutoCB(action=AutoAction.SHOW))


def nothing_to_withdraw(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_mine(t)], [_auto(t)],
                                                 [_menu(t, "common.back", Screen.MAIN)]])


def addresses(t: Translator, network_id: str, saved: Sequence[AddressDTO],
              now: datetime) -> InlineKeyboardMarkup:
    """Saved addresses of a network (a cooling one says from when it can receive), New, Cancel."""
    rows = []
    for address in saved:
        name = address.label or short_address(address.address)
        if not address.usable(now):
            name = t("withdraw.address_cooling_button", name=name,
                     at=moment(address.usable_from, t.locale))
        rows.append([_button(name, WithdrawCB(action=WithdrawAction.ADDRESS,
                                              network_id=network_id, address_id=address.id))])
    return InlineKeyboardMarkup(inline_keyboard=[
        *rows,
        [_button(t("withdraw.new_address_button"),
                 WithdrawCB(action=WithdrawAction.NEW_ADDRESS, network_id=network_id))],
        [_cancel(t)],
    ])


def cancel_only(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_cancel(t)]])


def label(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        _button(t("withdraw.skip_button"), WithdrawCB(action=WithdrawAction.SKIP_LABEL)),
        _cancel(t),
    ]])


def amount(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        _button(t("withdraw.all_button"), WithdrawCB(action=WithdrawAction.ALL)), _cancel(t),
    ]])


def confirm(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        _button(t("withdraw.confirm_button"), WithdrawCB(action=WithdrawAction.CONFIRM)),
        _cancel(t),
    ]])


def placed(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_mine(t)],
                                                 [_menu(t, "common.main_menu", Screen.MAIN)]])


def ended(t: Translator) -> InlineKeyboardMarkup:
    """After a cancelled or refused flow: start again, or leave."""
    return InlineKeyboardMarkup(inline_keyboard=[
        [_menu(t, "menu.withdraw", Screen.WITHDRAW)],
        [_menu(t, "common.main_menu", Screen.MAIN)],
    ])


def recent(t: Translator, withdrawals: Sequence[WithdrawalDTO]) -> InlineKeyboardMarkup:
    """A Cancel button for each request nobody approved yet; Back to Withdraw."""
    rows = [[_button(t("withdraw.cancel_request_button", id=w.id),
                     WithdrawalCB(action=WithdrawalAction.CANCEL, withdrawal_id=w.id))]
            for w in withdrawals if w.status is WithdrawalStatus.AWAITING_APPROVAL]
    return InlineKeyboardMarkup(inline_keyboard=[
        *rows, [_menu(t, "common.back", Screen.WITHDRAW)],
        [_menu(t, "common.main_menu", Screen.MAIN)],
    ])
