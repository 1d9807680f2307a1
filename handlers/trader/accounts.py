"""My accounts, and linking an exchange UID: choose exchange → enter UID → confirm.

The flow's state lives in Redis (aiogram's RedisStorage); /cancel leaves it at any step.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from arq.connections import ArqRedis

from handlers import keyboards
from handlers.callbacks import DisputeCB, LinkAction, LinkCB, MenuCB, Screen
from handlers.money import moment
from handlers.render import (
    enabled_exchange,
    escape,
    leave_flow,
    show,
    support_hint,
    support_url,
)
from services.accounts import AccountService, LinkOutcome
from services.dto import AccountDTO, UserDTO
from services.events import EventService
from services.exchange_catalog import ExchangeCatalog
from services.i18n import Translator
from services.jobs import enqueue_uid_check
from services.models import Platform
from services.sync import SyncService
from services.uid_disputes import DisputeOutcome, UidDisputeService

router = Router(name="trader.accounts")


class LinkUid(StatesGroup):
    choosing_exchange = State()
    entering_uid = State()
    confirming = State()


def render_accounts(t: Translator, accounts: list[AccountDTO]) -> str:
    if not accounts:
        return t("accounts.title") + "\n\n" + t("accounts.empty")
    lines = [t("accounts.title"), ""]
    for account in accounts:
        status = t(f"accounts.status.{account.status.value}")
        lines.append(t("accounts.line", exchange=account.exchange_name, uid=account.uid,
                       status=status))
        if account.reject_reason:
            lines.append("    " + t(f"accounts.reject.{account.reject_reason}"))
    return "\n".join(lines)


@router.callback_query(MenuCB.filter(F.screen == Screen.ACCOUNTS))
async def on_accounts(
    query: CallbackQuery, state: FSMContext, raw_state: str | None, t: Translator,
    user: UserDTO, accounts: AccountService, events: EventService,
) -> None:
    await leave_flow(state, raw_state)
    await events.record("screen_viewed", user.id, Platform.BOT, screen="accounts")
    await show(query, render_accounts(t, await accounts.list_for_user(user.id)),
               keyboards.accounts(t))


@router.callback_query(LinkCB.filter(F.action == LinkAction.START))
async def on_link_start(
    query: CallbackQuery, state: FSMContext, t: Translator, exchanges: ExchangeCatalog
) -> None:
    await state.set_state(LinkUid.choosing_exchange)
    await show(query, t("link.choose_exchange"),
               keyboards.link_pick_exchange(t, await exchanges.list()))


@router.callback_query(LinkCB.filter(F.action == LinkAction.PICK))
async def on_link_pick(
    query: CallbackQuery, callback_data: LinkCB, state: FSMContext, t: Translator, user: UserDTO,
    exchanges: ExchangeCatalog, events: EventService,
) -> None:
    exchange = await enabled_exchange(query, exchanges, callback_data.exchange_id, t)
    if exchange is None:
        return
    await state.set_state(LinkUid.entering_uid)
    await state.set_data({"exchange_id": exchange.id, "exchange_name": exchange.name})
    await events.record("uid_link_started", user.id, Platform.BOT, exchange=exchange.id)
    await show(query, t("link.enter_uid", name=exchange.name), keyboards.link_cancel(t))


@router.message(LinkUid.entering_uid, F.text)
async def on_uid_entered(
    message: Message, state: FSMContext, t: Translator, user: UserDTO, accounts: AccountService,
    events: EventService, support_contact: str | None = None,
) -> None:
    data = await state.get_data()
    check = accounts.check_uid(data["exchange_id"], message.text or "")
    if check.uid is None:
        await events.record("uid_link_invalid", user.id, Platform.BOT,
                            exchange=data["exchange_id"], reason=check.reason)
        text = t(f"link.invalid.{check.reason}", min=check.min_length, max=check.max_length)
        await message.answer(text + "\n\n" + t("link.try_again"),
                             reply_markup=keyboards.link_cancel(t))
        return
    # Somebody holds it already: say so now, not after Confirm (Confirm checks again: the
    # unique key decides races).
    holder = await accounts.holder(data["exchange_id"], check.uid)
    if holder is not None:
        await state.clear()
        taken = "already_yours" if holder == user.id else "taken"
        await events.record(f"uid_link_{taken}", user.id, Platform.BOT,
                            exchange=data["exchange_id"])
        text, markup = _held_reply(t, data["exchange_id"], data["exchange_name"], check.uid,
                                   mine=holder == user.id, support_contact=support_contact)
        await message.answer(text, reply_markup=markup)
        return
    await state.set_state(LinkUid.confirming)
    await state.set_data({**data, "uid": check.uid})
    await message.answer(
        t("link.confirm", uid=escape(check.uid), name=data["exchange_name"]),
        reply_markup=keyboards.link_confirm(t, data["exchange_id"]),
    )


@router.message(LinkUid.entering_uid)
async def on_uid_not_text(message: Message, t: Translator) -> None:
    await message.answer(t("link.send_text"), reply_markup=keyboards.link_cancel(t))


# A message where the step expects a button press: say what the step expects and send its
# keyboard again (the one above may be far up the chat by now).
@router.message(LinkUid.choosing_exchange)
async def on_message_while_choosing(
    message: Message, t: Translator, exchanges: ExchangeCatalog
) -> None:
    await message.answer(t("link.expects_exchange"),
                         reply_markup=keyboards.link_pick_exchange(t, await exchanges.list()))


@router.message(LinkUid.confirming)
async def on_message_while_confirming(message: Message, state: FSMContext, t: Translator) -> None:
    data = await state.get_data()
    await message.answer(
        t("link.expects_confirm", uid=escape(data["uid"]), name=data["exchange_name"]),
        reply_markup=keyboards.link_confirm(t, data["exchange_id"]),
    )


@router.callback_query(LinkUid.confirming, LinkCB.filter(F.action == LinkAction.CONFIRM))
async def on_link_confirm(
    query: CallbackQuery, state: FSMContext, t: Translator, user: UserDTO,
    accounts: AccountService, events: EventService, exchanges: ExchangeCatalog,
    sync: SyncService, arq: ArqRedis | None = None, redis_prefix: str = "",
    support_contact: str | None = None,
) -> None:
    data = await state.get_data()
    await state.clear()
    result = await accounts.link(user.id, data["exchange_id"], data["uid"])
    name = data["exchange_name"]
    uid = escape(result.uid or data["uid"])
    if result.outcome is LinkOutcome.LINKED and result.account is not None:
        exchange = await exchanges.get(data["exchange_id"])
        if exchange is not None and exchange.data_source == "csv":
            reject_at = result.account.created_at + sync.uid_reject_after
            text = t("link.done_csv", uid=uid, name=name, reject_at=moment(reject_at, t.locale))
        elif arq is not None:
            # The worker asks the exchange now and tells the trader what it said.
            await enqueue_uid_check(arq, redis_prefix, result.account.id)
            text = t("link.done_checking", uid=uid, name=name)
        else:
            text = t("link.done", uid=uid, name=name)
        await show(query, text, keyboards.after_link(t))
        return
    await events.record(f"uid_link_{result.outcome.value}", user.id, Platform.BOT,
                        exchange=data["exchange_id"])
    if result.outcome in (LinkOutcome.TAKEN, LinkOutcome.ALREADY_YOURS):
        text, markup = _held_reply(t, data["exchange_id"], name, result.uid or data["uid"],
                                   mine=result.outcome is LinkOutcome.ALREADY_YOURS,
                                   support_contact=support_contact)
        await show(query, text, markup)
        return
    await show(query, t(f"link.outcome.{result.outcome.value}", uid=uid, name=name),
               keyboards.after_link(t))


def _held_reply(t: Translator, exchange_id: str, name: str, uid: str, *, mine: bool,
                support_contact: str | None) -> tuple[str, InlineKeyboardMarkup]:
    """A UID that is linked already: to this trader, or to another one (then it can be
    claimed: only people can settle whose it is)."""
    if mine:
        return (t("link.outcome.already_yours", uid=escape(uid), name=name),
                keyboards.after_link(t))
    text = t("link.outcome.taken", uid=escape(uid), name=name) + "\n\n" + t(
        "dispute.offer") + "\n" + support_hint(
        t, support_contact, with_contact="support.if_yours", without="support.if_yours_none")
    return text, keyboards.uid_taken(t, exchange_id, uid, support_url(support_contact))


@router.callback_query(DisputeCB.filter())
async def on_uid_dispute(
    query: CallbackQuery, callback_data: DisputeCB, t: Translator, user: UserDTO,
    disputes: UidDisputeService, admin_chat_id: int | None = None,
    support_contact: str | None = None,
) -> None:
    result = await disputes.open(user.id, callback_data.exchange_id, callback_data.uid,
                                 admin_chat_id)
    text = t(f"dispute.{result.outcome.value}", uid=escape(callback_data.uid),
             name=result.exchange_name)
    if result.outcome is DisputeOutcome.NO_ADMIN_CHAT:
        text += "\n" + support_hint(t, support_contact, with_contact="support.if_yours",
                                    without="support.if_yours_none")
    await show(query, text, keyboards.after_link(t, support_url(support_contact)))


@router.callback_query(LinkCB.filter(F.action == LinkAction.CONFIRM))
async def on_link_confirm_stale(query: CallbackQuery, t: Translator) -> None:
    # A confirm button from a flow that was cancelled or finished already.
    await query.answer(t("link.expired"), show_alert=True)


@router.callback_query(LinkCB.filter(F.action == LinkAction.CANCEL))
async def on_link_cancel(
    query: CallbackQuery, state: FSMContext, t: Translator, user: UserDTO, events: EventService
) -> None:
    await state.clear()
    await events.record("uid_link_cancelled", user.id, Platform.BOT)
    await show(query, t("common.cancelled"), keyboards.after_link(t))
