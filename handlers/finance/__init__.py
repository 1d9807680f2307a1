"""The finance chat (FINANCE_CHAT_ID): the buttons of withdrawal cards, and the reason or
transaction hash a decision asks for. Who may decide is checked by ApprovalService on every
click, from the database; being in the chat is not enough."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, Filter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, ForceReply, Message
from arq.connections import ArqRedis

from handlers.callbacks import FinanceAction, FinanceCB
from handlers.finance.cards import card_keyboard, card_text
from services.i18n import Translator
from services.jobs import enqueue_payout
from services.payouts.approvals import ApprovalService, Decision
from services.payouts.cards import card_view, record_card

log = logging.getLogger(__name__)


class InFinanceChat(Filter):
    async def __call__(self, event: Message | CallbackQuery,
                       finance_chat_id: int | None = None) -> bool:
        message = event.message if isinstance(event, CallbackQuery) else event
        chat = getattr(message, "chat", None)
        return chat is not None and finance_chat_id is not None and chat.id == finance_chat_id


class FinanceInput(StatesGroup):
    reject_reason = State()
    tx_hash = State()


router = Router(name="finance")
router.message.filter(InFinanceChat())
router.callback_query.filter(InFinanceChat())


async def refresh_card(bot: Bot, t: Translator, withdrawal_id: int) -> None:
    """Edit the request's card to what the database holds now."""
    view = await card_view(withdrawal_id)
    w = view.withdrawal if view else None
    if view is None or w is None or w.card_chat_id is None or w.card_message_id is None:
        return
    try:
        await bot.edit_message_text(card_text(t, view), chat_id=w.card_chat_id,
                                    message_id=w.card_message_id,
                                    reply_markup=card_keyboard(t, view))
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message:
            log.warning("finance card of %s not edited: %s", withdrawal_id, exc.message)
            return
    await record_card(withdrawal_id, w.card_chat_id, w.card_message_id, view.state_key)


async def _after(decision: Decision, bot: Bot, t: Translator, arq: ArqRedis | None,
                 redis_prefix: str) -> str:
    """Refresh the card, start paying an approved request, and say what happened."""
    if decision.withdrawal is not None:
        await refresh_card(bot, t, decision.withdrawal.id)
    if decision.ok and decision.code in ("approved", "retrying") and arq is not None:
        await enqueue_payout(arq, redis_prefix, decision.withdrawal.id)  # type: ignore[union-attr]
    return t(f"finance.decision.{decision.code}",
             id=decision.withdrawal.id if decision.withdrawal else "",
             have=decision.approvals,
             need=decision.withdrawal.approvals_needed if decision.withdrawal else 0)


@router.callback_query(FinanceCB.filter(F.action.in_({FinanceAction.APPROVE,
                                                      FinanceAction.RETRY})))
async def on_approve_or_retry(query: CallbackQuery, callback_data: FinanceCB, bot: Bot,
                              t: Translator, approvals: ApprovalService,
                              arq: ArqRedis | None = None, redis_prefix: str = "") -> None:
    action = (approvals.approve if callback_data.action is FinanceAction.APPROVE
              else approvals.retry)
    decision = await action(callback_data.withdrawal_id, query.from_user.id,
                            callback_data.revision)
    await query.answer(await _after(decision, bot, t, arq, redis_prefix),
                       show_alert=not decision.ok)


@router.callback_query(FinanceCB.filter(F.action.in_({FinanceAction.REJECT,
                                                      FinanceAction.PAID})))
async def on_ask_for_words(query: CallbackQuery, callback_data: FinanceCB, state: FSMContext,
                           t: Translator, approvals: ApprovalService) -> None:
    if not await approvals.can_decide(query.from_user.id):
        await query.answer(t("finance.decision.not_allowed"), show_alert=True)
        return
    rejecting = callback_data.action is FinanceAction.REJECT
    await query.answer()
    if not isinstance(query.message, Message):
        return
    key = "finance.ask.reason" if rejecting else "finance.ask.tx"
    asked = await query.message.reply(t(key, id=callback_data.withdrawal_id,
                                        name=query.from_user.full_name),
                                      reply_markup=ForceReply(selective=True))
    await state.set_state(FinanceInput.reject_reason if rejecting else FinanceInput.tx_hash)
    # Only a reply to this question is the answer: not whatever the person says next.
    await state.set_data({"id": callback_data.withdrawal_id, "rev": callback_data.revision,
                          "ask": asked.message_id})


async def _is_the_answer(message: Message, data: dict[str, object], t: Translator) -> bool:
    reply = message.reply_to_message
    if reply is not None and reply.message_id == data.get("ask"):
        return True
    await message.reply(t("finance.ask.reply_please", id=data["id"]))
    return False


@router.message(Command("cancel"), F.chat.type != "private")
async def on_cancel(message: Message, state: FSMContext, t: Translator) -> None:
    if await state.get_state() is not None:
        await state.clear()
        await message.reply(t("common.cancelled"))


@router.message(FinanceInput.reject_reason, F.text)
async def on_reason(message: Message, state: FSMContext, bot: Bot, t: Translator,
                    approvals: ApprovalService, arq: ArqRedis | None = None,
                    redis_prefix: str = "") -> None:
    data = await state.get_data()
    if not await _is_the_answer(message, data, t):
        return
    decision = await approvals.reject(data["id"], message.from_user.id,  # type: ignore[union-attr]
                                      data["rev"], message.text or "")
    if decision.code == "no_reason":
        await message.reply(t("finance.decision.no_reason", id=data["id"]),
                            reply_markup=ForceReply(selective=True))
        return
    await state.clear()
    await message.reply(await _after(decision, bot, t, arq, redis_prefix))


@router.message(FinanceInput.tx_hash, F.text)
async def on_tx_hash(message: Message, state: FSMContext, bot: Bot, t: Translator,
                     approvals: ApprovalService, arq: ArqRedis | None = None,
                     redis_prefix: str = "") -> None:
    data = await state.get_data()
    if not await _is_the_answer(message, data, t):
        return
    decision = await approvals.mark_paid(data["id"], message.from_user.id,  # type: ignore[union-attr]
                                         data["rev"], message.text or "")
    if decision.code in ("no_tx_hash", "tx_hash_used"):
        await message.reply(t(f"finance.decision.{decision.code}", id=data["id"]),
                            reply_markup=ForceReply(selective=True))
        return
    await state.clear()
    await message.reply(await _after(decision, bot, t, arq, redis_prefix))
