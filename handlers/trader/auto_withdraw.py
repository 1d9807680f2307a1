"""Auto-withdrawal in the bot: see the standing order, set it (a destination, then the balance
at which everything available is withdrawn), turn it off. The requests it makes follow the
rules of one made by hand (services/payouts/auto.py)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from handlers.callbacks import AutoAction, AutoCB, MenuCB, Screen
from handlers.keyboards_withdraw import short_address
from handlers.money import money
from handlers.render import escape, show
from handlers.trader.withdraw import refusal_text
from services.dto import UserDTO
from services.events import EventService
from services.exchange_catalog import ExchangeCatalog
from services.i18n import Translator
from services.models import PayoutMethod, Platform
from services.payouts.auto import AutoWithdrawalDTO, AutoWithdrawals
from services.payouts.quotes import PayoutRefusal, parse_amount
from services.payouts.requests import Destination, WithdrawalService

router = Router(name="trader.auto_withdraw")


class AutoWithdraw(StatesGroup):
    entering_threshold = State()


async def _choices(user: UserDTO, withdrawals: WithdrawalService, exchanges: ExchangeCatalog
                   ) -> list[tuple[str, AutoCB]]:
    """Where an order can pay: the trader's verified UIDs (no fee), then saved addresses."""
    names = {e.id: e.name for e in await exchanges.list(enabled_only=False)}
    choices = [(f"{names.get(ex, ex)} · UID {uid}",
                AutoCB(action=AutoAction.PICK, exchange_id=ex))
               for ex, uid in await withdrawals.internal_accounts(user.id)]
    for network in await withdrawals.networks():
        for address in await withdrawals.addresses(user.id, network.id):
            label = address.label or short_address(address.address)
            choices.append((f"{network.network} · {label}",
                            AutoCB(action=AutoAction.PICK, address_id=address.id)))
    return choices


async def _describe(t: Translator, order: AutoWithdrawalDTO | None, user: UserDTO,
                    withdrawals: WithdrawalService, exchanges: ExchangeCatalog) -> str:
    if order is None or not order.enabled:
        return t("auto.off")
    where = order.destination
    if where.method is PayoutMethod.INTERNAL:
        exchange = await exchanges.get(where.exchange_id or "")
        target = t("auto.to_uid", name=exchange.name if exchange else where.exchange_id)
    else:
        saved = {a.id: a for a in await withdrawals.addresses(user.id, where.network_id or "")}
        address = saved.get(where.address_id or 0)
        target = t("auto.to_address", network=where.network_id,
                   address=escape(address.address if address else "?"))
    return t("auto.on", threshold=money(order.threshold, t.locale), target=target)


@router.callback_query(AutoCB.filter(F.action == AutoAction.SHOW))
async def on_auto(query: CallbackQuery, state: FSMContext, t: Translator, user: UserDTO,
                  auto_withdrawals: AutoWithdrawals, withdrawals: WithdrawalService,
                  exchanges: ExchangeCatalog) -> None:
    await state.clear()
    order = await auto_withdrawals.get(user.id)
    text = t("auto.title") + "\n\n" + await _describe(t, order, user, withdrawals, exchanges)
    choices = await _choices(user, withdrawals, exchanges)
    rows = [[InlineKeyboardButton(text=t("auto.set_to", target=label),
                                  callback_data=data.pack())] for label, data in choices]
    if not choices:
        text += "\n\n" + t("auto.no_destination")
    if order is not None and order.enabled:
        rows.append([InlineKeyboardButton(text=t("auto.turn_off"),
                                          callback_data=AutoCB(action=AutoAction.OFF).pack())])
    rows.append([InlineKeyboardButton(text=t("common.back"),
                                      callback_data=MenuCB(screen=Screen.WITHDRAW).pack())])
    await show(query, text, InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(AutoCB.filter(F.action == AutoAction.PICK))
async def on_pick(query: CallbackQuery, callback_data: AutoCB, state: FSMContext,
                  t: Translator, user: UserDTO, withdrawals: WithdrawalService) -> None:
    if callback_data.exchange_id:
        where = Destination(PayoutMethod.INTERNAL, exchange_id=callback_data.exchange_id)
    else:
        network = await _network_of(user, withdrawals, callback_data.address_id)
        where = Destination(PayoutMethod.ONCHAIN, network_id=network,
                            address_id=callback_data.address_id)
    try:
        limits = await withdrawals.limits(user.id, where)
    except PayoutRefusal as refusal:
        await query.answer(refusal_text(t, refusal), show_alert=True)
        return
    await state.set_state(AutoWithdraw.entering_threshold)
    await state.set_data({"method": where.method.value, "network_id": where.network_id,
                          "address_id": where.address_id, "exchange_id": where.exchange_id})
    await show(query, t("auto.ask_threshold", minimum=money(limits.min_amount, t.locale)),
               _back(t))


async def _network_of(user: UserDTO, withdrawals: WithdrawalService, address_id: int) -> str:
    for network in await withdrawals.networks():
        if any(a.id == address_id for a in await withdrawals.addresses(user.id, network.id)):
            return network.id
    return ""


def _back(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=t("common.back"), callback_data=AutoCB(action=AutoAction.SHOW).pack())]])


@router.message(AutoWithdraw.entering_threshold, F.text)
async def on_threshold(message: Message, state: FSMContext, t: Translator, user: UserDTO,
                       auto_withdrawals: AutoWithdrawals, withdrawals: WithdrawalService,
                       exchanges: ExchangeCatalog, events: EventService) -> None:
    data = await state.get_data()
    where = Destination(PayoutMethod(data["method"]), network_id=data["network_id"],
                        address_id=data["address_id"], exchange_id=data["exchange_id"])
    try:
        threshold = parse_amount(message.text or "")
        if threshold is None:
            raise PayoutRefusal("bad_amount")
        order = await auto_withdrawals.set(user.id, where, threshold)
    except PayoutRefusal as refusal:
        await message.answer(refusal_text(t, refusal) + "\n\n" + t("auto.try_again"),
                             reply_markup=_back(t))
        return
    await state.clear()
    await events.record("auto_withdrawal_set", user.id, Platform.BOT, method=where.method.value)
    await message.answer(await _describe(t, order, user, withdrawals, exchanges),
                         reply_markup=_back(t))


@router.callback_query(AutoCB.filter(F.action == AutoAction.OFF))
async def on_off(query: CallbackQuery, t: Translator, user: UserDTO,
                 auto_withdrawals: AutoWithdrawals, events: EventService) -> None:
    await auto_withdrawals.disable(user.id)
    await events.record("auto_withdrawal_off", user.id, Platform.BOT)
    await show(query, t("auto.off"), _back(t))
