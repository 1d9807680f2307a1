"""Withdraw: method and network → a saved address or a new one → amount → summary → Confirm;
and My withdrawals, where a request not yet approved can be cancelled.

Nothing is held before Confirm: ``WithdrawalService.create`` places the hold and re-checks the
limits in one transaction. The flow's state lives in Redis; Cancel and /cancel leave it at any
step, and every refusal says why with a way on (try again, or start over).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from arq.connections import ArqRedis
from redis.asyncio import Redis

from handlers import keyboards
from handlers import keyboards_withdraw as kb
from handlers.callbacks import (
    MenuCB,
    Screen,
    WithdrawAction,
    WithdrawalAction,
    WithdrawalCB,
    WithdrawCB,
)
from handlers.money import moment, money
from handlers.render import banned_text, escape, leave_flow, show, support_url
from services.dto import UserDTO
from services.events import EventService
from services.exchange_catalog import ExchangeCatalog
from services.i18n import Translator
from services.jobs import enqueue_payout
from services.models import PayoutMethod, Platform, WithdrawalStatus
from services.payouts.addresses import check_address
from services.payouts.config import NetworkDTO
from services.payouts.quotes import PayoutRefusal, parse_amount
from services.payouts.requests import Destination, WithdrawalService
from services.payouts.wording import refusal_text as refusal_words

router = Router(name="trader.withdraw")

Event = Message | CallbackQuery
CONFIRM_CLAIM_SECONDS = 24 * 3600  # longer than the FSM data lives


class Withdraw(StatesGroup):
    choosing_method = State()
    choosing_address = State()
    entering_address = State()
    entering_label = State()
    entering_amount = State()
    confirming = State()


# Refusals the trader fixes by sending another amount: the amount step stays open.
_AMOUNT_CODES = frozenset({
    "bad_amount", "too_many_decimals", "not_positive", "below_minimum", "above_balance",
    "above_maximum", "above_limit_24h", "above_limit_72h", "fee_exceeds_amount",
})
def refusal_text(t: Translator, refusal: PayoutRefusal, support_contact: str | None = None) -> str:
    """Why a step was refused, in the reader's language (services/payouts/wording.py), and for
    a banned trader the way to contest it."""
    if refusal.code == "banned":
        return banned_text(t, support_contact)
    return refusal_words(t, refusal)


def _destination(data: dict[str, Any]) -> Destination:
    if data["method"] == PayoutMethod.INTERNAL.value:
        return Destination(PayoutMethod.INTERNAL, exchange_id=data["exchange_id"])
    return Destination(PayoutMethod.ONCHAIN, network_id=data["network_id"],
                       address_id=data["address_id"])


def _network_data(network: NetworkDTO) -> dict[str, Any]:
    return {"method": PayoutMethod.ONCHAIN.value, "network_id": network.id,
            "network_name": network.name, "chain": network.network}


async def _refused(event: Event, state: FSMContext, t: Translator, refusal: PayoutRefusal,
                   user: UserDTO, events: EventService, support_contact: str | None,
                   data: dict[str, Any] | None = None) -> None:
    """Tell why; an amount can be fixed on the spot (``data``: the amount step to return to),
    anything else ends the flow with a way to start over."""
    await events.record("withdraw_refused", user.id, Platform.BOT, code=refusal.code)
    text = refusal_text(t, refusal, support_contact)
    if refusal.code in _AMOUNT_CODES:
        if data is not None:
            await state.set_state(Withdraw.entering_amount)
            await state.set_data(data)
        await show(event, text + "\n\n" + t("withdraw.amount_try_again"), kb.amount(t))
        return
    await state.clear()
    markup = (keyboards.support_only(t, support_url(support_contact))
              if refusal.code == "banned" else kb.ended(t))
    await show(event, text, markup)


async def _methods(t: Translator, user: UserDTO, withdrawals: WithdrawalService,
                   exchanges: ExchangeCatalog) -> tuple[list[tuple[str, str, str]],
                                                        list[NetworkDTO]]:
    names = {e.id: e.name for e in await exchanges.list(enabled_only=False)}
    internal = [(exchange_id, names.get(exchange_id, exchange_id), uid)
                for exchange_id, uid in await withdrawals.internal_accounts(user.id)]
    return internal, await withdrawals.networks()


@router.message(Command("withdraw"))
@router.callback_query(MenuCB.filter(F.screen == Screen.WITHDRAW))
async def on_withdraw(
    event: Event, state: FSMContext, raw_state: str | None, t: Translator, user: UserDTO,
    withdrawals: WithdrawalService, exchanges: ExchangeCatalog, events: EventService,
) -> None:
    await leave_flow(state, raw_state)
    await events.record("screen_viewed", user.id, Platform.BOT, screen="withdraw")
    available = await withdrawals.available(user.id)
    head = t("withdraw.title") + "\n\n" + t("withdraw.available",
                                             amount=money(available, t.locale))
    if available <= 0:
        await show(event, head + "\n\n" + t("withdraw.nothing"), kb.nothing_to_withdraw(t))
        return
    internal, networks = await _methods(t, user, withdrawals, exchanges)
    if not internal and not networks:
        await show(event, head + "\n\n" + t("withdraw.no_methods"), kb.nothing_to_withdraw(t))
        return
    await state.set_state(Withdraw.choosing_method)
    note = "\n" + t("withdraw.internal_note") if internal else ""
    await show(event, head + "\n\n" + t("withdraw.choose_method") + note,
               kb.methods(t, internal, networks))


@router.message(Withdraw.choosing_method)
async def on_message_while_choosing_method(
    message: Message, t: Translator, user: UserDTO, withdrawals: WithdrawalService,
    exchanges: ExchangeCatalog,
) -> None:
    internal, networks = await _methods(t, user, withdrawals, exchanges)
    await message.answer(t("withdraw.expects_method"),
                         reply_markup=kb.methods(t, internal, networks))


@router.callback_query(WithdrawCB.filter(F.action == WithdrawAction.INTERNAL))
async def on_internal(
    query: CallbackQuery, callback_data: WithdrawCB, state: FSMContext, t: Translator,
    user: UserDTO, withdrawals: WithdrawalService, exchanges: ExchangeCatalog,
) -> None:
    uid = dict(await withdrawals.internal_accounts(user.id)).get(callback_data.exchange_id)
    if uid is None:
        await query.answer(refusal_text(t, PayoutRefusal("internal_unavailable")),
                           show_alert=True)
        return
    exchange = await exchanges.get(callback_data.exchange_id)
    await _ask_amount(query, state, t, user, withdrawals, {
        "method": PayoutMethod.INTERNAL.value, "exchange_id": callback_data.exchange_id,
        "exchange_name": exchange.name if exchange else callback_data.exchange_id, "uid": uid})


async def _network(query: CallbackQuery, t: Translator, withdrawals: WithdrawalService,
                   network_id: str) -> NetworkDTO | None:
    """The enabled network a button names, or None after saying it is not available."""
    for network in await withdrawals.networks():
        if network.id == network_id:
            return network
    await query.answer(refusal_text(t, PayoutRefusal("network_disabled")), show_alert=True)
    return None


async def _show_addresses(event: Event, t: Translator, user: UserDTO,
                          withdrawals: WithdrawalService, data: dict[str, Any],
                          notice: str = "") -> None:
    saved = await withdrawals.addresses(user.id, data["network_id"])
    key = "withdraw.addresses" if saved else "withdraw.addresses_none"
    text = (notice + "\n\n" if notice else "") + t(key, network=data["network_name"])
    await show(event, text, kb.addresses(t, data["network_id"], saved, datetime.now(UTC)))


@router.callback_query(WithdrawCB.filter(F.action == WithdrawAction.NETWORK))
async def on_network(
    query: CallbackQuery, callback_data: WithdrawCB, state: FSMContext, t: Translator,
    user: UserDTO, withdrawals: WithdrawalService,
) -> None:
    network = await _network(query, t, withdrawals, callback_data.network_id)
    if network is None:
        return
    await state.set_state(Withdraw.choosing_address)
    await state.set_data(_network_data(network))
    await _show_addresses(query, t, user, withdrawals, _network_data(network))


@router.message(Withdraw.choosing_address)
async def on_message_while_choosing_address(
    message: Message, state: FSMContext, t: Translator, user: UserDTO,
    withdrawals: WithdrawalService,
) -> None:
    await _show_addresses(message, t, user, withdrawals, await state.get_data(),
                          t("withdraw.expects_address"))


@router.callback_query(WithdrawCB.filter(F.action == WithdrawAction.ADDRESS))
async def on_address(
    query: CallbackQuery, callback_data: WithdrawCB, state: FSMContext, t: Translator,
    user: UserDTO, withdrawals: WithdrawalService,
) -> None:
    network = await _network(query, t, withdrawals, callback_data.network_id)
    if network is None:
        return
    saved = {a.id: a for a in await withdrawals.addresses(user.id, network.id)}
    address = saved.get(callback_data.address_id)
    if address is None or not address.usable(datetime.now(UTC)):
        refusal = (PayoutRefusal("address_unknown") if address is None else PayoutRefusal(
            "address_cooling_down", usable_at=address.usable_from.isoformat()))
        await query.answer(refusal_text(t, refusal), show_alert=True)
        return
    await _ask_amount(query, state, t, user, withdrawals, {
        **_network_data(network), "address_id": address.id, "address": address.address})


@router.callback_query(WithdrawCB.filter(F.action == WithdrawAction.NEW_ADDRESS))
async def on_new_address(
    query: CallbackQuery, callback_data: WithdrawCB, state: FSMContext, t: Translator,
    withdrawals: WithdrawalService,
) -> None:
    network = await _network(query, t, withdrawals, callback_data.network_id)
    if network is None:
        return
    await state.set_state(Withdraw.entering_address)
    await state.set_data(_network_data(network))
    await show(query, t("withdraw.enter_address", network=network.name), kb.cancel_only(t))


@router.message(Withdraw.entering_address, F.text)
async def on_address_entered(
    message: Message, state: FSMContext, t: Translator, user: UserDTO, events: EventService,
) -> None:
    data = await state.get_data()
    checked = check_address(data["chain"], message.text or "")
    if checked.address is None:
        # The same refusal WithdrawalService.add_address raises; checked here so that the label
        # is asked only for an address that will be saved.
        refusal = PayoutRefusal(f"address_{checked.reason}", network=data["network_name"],
                                looks_like=checked.looks_like or "")
        await events.record("withdraw_refused", user.id, Platform.BOT, code=refusal.code)
        await message.answer(refusal_text(t, refusal) + "\n\n" + t("withdraw.address_try_again"),
                             reply_markup=kb.cancel_only(t))
        return
    await state.set_state(Withdraw.entering_label)
    await state.update_data(pending_address=checked.address)
    await message.answer(t("withdraw.enter_label", address=escape(checked.address)),
                         reply_markup=kb.label(t))


@router.message(Withdraw.entering_label, F.text)
@router.callback_query(Withdraw.entering_label,
                       WithdrawCB.filter(F.action == WithdrawAction.SKIP_LABEL))
async def on_label(
    event: Event, state: FSMContext, t: Translator, user: UserDTO,
    withdrawals: WithdrawalService, events: EventService, support_contact: str | None = None,
) -> None:
    label = (event.text or "") if isinstance(event, Message) else ""  # Skip: no label
    data = await state.get_data()
    try:
        saved = await withdrawals.add_address(user.id, data["network_id"],
                                              data["pending_address"], label)
    except PayoutRefusal as refusal:
        await _refused(event, state, t, refusal, user, events, support_contact)
        return
    await events.record("payout_address_saved", user.id, Platform.BOT,
                        network=data["network_id"])
    network = {k: data[k] for k in ("method", "network_id", "network_name", "chain")}
    if not saved.usable(datetime.now(UTC)):
        await state.set_state(Withdraw.choosing_address)
        await state.set_data(network)
        notice = t("withdraw.address_saved_cooling", at=moment(saved.usable_from, t.locale))
        await _show_addresses(event, t, user, withdrawals, network, notice)
        return
    await _ask_amount(event, state, t, user, withdrawals,
                      {**network, "address_id": saved.id, "address": saved.address})


async def _ask_amount(event: Event, state: FSMContext, t: Translator, user: UserDTO,
                      withdrawals: WithdrawalService, data: dict[str, Any]) -> None:
    try:
        limits = await withdrawals.limits(user.id, _destination(data))
    except PayoutRefusal as refusal:
        await state.clear()
        await show(event, refusal_text(t, refusal), kb.ended(t))
        return
    available = await withdrawals.available(user.id)
    await state.set_state(Withdraw.entering_amount)
    await state.set_data(data)
    locale = t.locale
    await show(event, t("withdraw.enter_amount", destination=kb.where(t, data),
                        available=money(available, locale),
                        min=money(limits.min_amount, locale),
                        max=money(limits.max_amount, locale), room=money(limits.room, locale)),
               kb.amount(t))


@router.message(Withdraw.entering_amount, F.text)
@router.callback_query(Withdraw.entering_amount, WithdrawCB.filter(F.action == WithdrawAction.ALL))
async def on_amount(
    event: Event, state: FSMContext, t: Translator, user: UserDTO,
    withdrawals: WithdrawalService, events: EventService, support_contact: str | None = None,
) -> None:
    data = await state.get_data()
    try:
        # All available: None, from the button or typed ("all", "всё").
        amount = parse_amount(event.text or "") if isinstance(event, Message) else None
        offer = await withdrawals.prepare(user.id, _destination(data), amount)
    except PayoutRefusal as refusal:
        await _refused(event, state, t, refusal, user, events, support_contact)
        return
    # The confirmed numbers, and a token that lets one press of Confirm place the request.
    confirmed = {**data, "amount": str(offer.amount), "fee": str(offer.fee),
                 "net": str(offer.net_amount), "approvals": offer.approvals_needed,
                 "token": secrets.token_hex(8)}
    await state.set_state(Withdraw.confirming)
    await state.set_data(confirmed)
    await show(event, kb.render_summary(t, confirmed), kb.confirm(t))


_SEND_TEXT = {
    Withdraw.entering_address.state: ("withdraw.address_send_text", kb.cancel_only),
    Withdraw.entering_label.state: ("withdraw.label_send_text", kb.label),
    Withdraw.entering_amount.state: ("withdraw.amount_send_text", kb.amount),
}


@router.message(StateFilter(*_SEND_TEXT))
async def on_not_text(message: Message, raw_state: str | None, t: Translator) -> None:
    # A sticker or photo where the step expects text: say what it expects.
    key, markup = _SEND_TEXT[raw_state or ""]
    await message.answer(t(key), reply_markup=markup(t))


@router.message(Withdraw.confirming)
async def on_message_while_confirming(message: Message, state: FSMContext,
                                      t: Translator) -> None:
    summary = kb.render_summary(t, await state.get_data())
    await message.answer(summary + "\n\n" + t("withdraw.expects_confirm"),
                         reply_markup=kb.confirm(t))


@router.callback_query(Withdraw.confirming, WithdrawCB.filter(F.action == WithdrawAction.CONFIRM))
async def on_confirm(
    query: CallbackQuery, state: FSMContext, t: Translator, user: UserDTO,
    withdrawals: WithdrawalService, events: EventService, redis: Redis, redis_prefix: str = "",
    support_contact: str | None = None, arq: ArqRedis | None = None,
) -> None:
    data = await state.get_data()
    # A double tap sends two updates that may both see this state: the first claims the token.
    claimed = await redis.set(f"{redis_prefix}:withdraw:confirm:{data['token']}", 1, nx=True,
                              ex=CONFIRM_CLAIM_SECONDS)
    if not claimed:
        await query.answer(t("withdraw.expired"), show_alert=True)
        return
    await state.clear()
    try:
        request = await withdrawals.create(user.id, _destination(data), Decimal(data["amount"]),
                                           expected_fee=Decimal(data["fee"]))
    except PayoutRefusal as refusal:
        step = {k: v for k, v in data.items()
                if k not in ("amount", "fee", "net", "approvals", "token")}
        await _refused(query, state, t, refusal, user, events, support_contact, step)
        return
    await events.record("withdrawal_requested", user.id, Platform.BOT, method=data["method"],
                        review=request.status is WithdrawalStatus.AWAITING_APPROVAL)
    if request.status is WithdrawalStatus.APPROVED and arq is not None:
        await enqueue_payout(arq, redis_prefix, request.id)  # now, not at the next tick
    key = ("withdraw.placed_review" if request.status is WithdrawalStatus.AWAITING_APPROVAL
           else "withdraw.placed_auto")
    await show(query, t(key, id=request.id, amount=money(request.amount, t.locale),
                        net=money(request.net_amount, t.locale), destination=kb.where(t, data)),
               kb.placed(t))


@router.callback_query(WithdrawCB.filter(F.action == WithdrawAction.CANCEL))
async def on_cancel(
    query: CallbackQuery, state: FSMContext, raw_state: str | None, t: Translator,
    user: UserDTO, events: EventService,
) -> None:
    await leave_flow(state, raw_state)
    await events.record("withdraw_cancelled", user.id, Platform.BOT, state=raw_state)
    await show(query, t("common.cancelled"), kb.ended(t))


@router.callback_query(WithdrawCB.filter())
async def on_stale_step(query: CallbackQuery, t: Translator) -> None:
    # All available, Skip or Confirm of a flow that was cancelled or finished already.
    await query.answer(t("withdraw.expired"), show_alert=True)


async def _show_recent(event: Event, t: Translator, user: UserDTO,
                       withdrawals: WithdrawalService, exchanges: ExchangeCatalog,
                       notice: str = "") -> None:
    recent = await withdrawals.recent(user.id, 10)
    names = {e.id: e.name for e in await exchanges.list(enabled_only=False)}
    text = (notice + "\n\n" if notice else "") + kb.render_recent(t, recent, names)
    await show(event, text, kb.recent(t, recent))


@router.callback_query(WithdrawalCB.filter(F.action == WithdrawalAction.LIST))
async def on_my_withdrawals(
    query: CallbackQuery, state: FSMContext, raw_state: str | None, t: Translator,
    user: UserDTO, withdrawals: WithdrawalService, exchanges: ExchangeCatalog,
    events: EventService,
) -> None:
    await leave_flow(state, raw_state)
    await events.record("screen_viewed", user.id, Platform.BOT, screen="withdrawals")
    await _show_recent(query, t, user, withdrawals, exchanges)


@router.callback_query(WithdrawalCB.filter(F.action == WithdrawalAction.CANCEL))
async def on_request_cancel(
    query: CallbackQuery, callback_data: WithdrawalCB, t: Translator, user: UserDTO,
    withdrawals: WithdrawalService, exchanges: ExchangeCatalog, events: EventService,
) -> None:
    try:
        cancelled = await withdrawals.cancel(user.id, callback_data.withdrawal_id)
    except PayoutRefusal as refusal:
        notice = refusal_text(t, refusal)
    else:
        await events.record("withdrawal_cancelled", user.id, Platform.BOT)
        notice = t("withdraw.request_cancelled", id=cancelled.id,
                   amount=money(cancelled.amount, t.locale))
    await _show_recent(query, t, user, withdrawals, exchanges, notice)
