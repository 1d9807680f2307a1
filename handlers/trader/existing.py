""""I already have an account": the questions of services.existing_accounts, one per screen,
each answer editing the same message, ending in a verdict with what to do next.

No FSM: the answers so far travel in the callback data (ExistingCB.answers)."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup

from handlers.callbacks import ExchangeAction, ExchangeCB, ExistingCB, LinkAction, LinkCB
from handlers.render import enabled_exchange, show, support_url
from services import existing_accounts
from services.dto import ExchangeDTO, UserDTO
from services.events import EventService
from services.exchange_catalog import ExchangeCatalog
from services.existing_accounts import Question, Verdict, VerdictKind
from services.i18n import Translator
from services.models import Platform
from services.referrals import ReferralService

router = Router(name="trader.existing")


def _button(text: str, data: ExistingCB | ExchangeCB | LinkCB) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _footer(t: Translator, exchange_id: str, answers: str) -> list[list[InlineKeyboardButton]]:
    rows = []
    if answers:
        rows.append([_button(t("existing.start_over"), ExistingCB(exchange_id=exchange_id))])
    rows.append([_button(t("common.back"),
                         ExchangeCB(action=ExchangeAction.CARD, exchange_id=exchange_id))])
    return rows


def question_keyboard(
    t: Translator, exchange_id: str, answers: str, question: Question
) -> InlineKeyboardMarkup:
    choices = [
        _button(t(f"existing.answer.{answer.name.lower()}"),
                ExistingCB(exchange_id=exchange_id, answers=answers + answer.value))
        for answer in question.answers
    ]
    return InlineKeyboardMarkup(inline_keyboard=[choices, *_footer(t, exchange_id, answers)])


def verdict_keyboard(
    t: Translator, exchange: ExchangeDTO, answers: str, verdict: Verdict, tracked_url: str,
    support: str | None,
) -> InlineKeyboardMarkup:
    rows = []
    if verdict.kind != VerdictKind.LINK_AS_IS:
        rows.append([InlineKeyboardButton(text=t("exchange.open", name=exchange.name),
                                          url=tracked_url)])
    rows.append([_button(t("exchange.link_uid"),
                         LinkCB(action=LinkAction.PICK, exchange_id=exchange.id))])
    if support is not None:
        rows.append([InlineKeyboardButton(text=t("support.button"), url=support)])
    return InlineKeyboardMarkup(inline_keyboard=[*rows, *_footer(t, exchange.id, answers)])


def question_text(t: Translator, exchange: ExchangeDTO, question: Question, *,
                  first: bool) -> str:
    parts = [t("existing.title", name=exchange.name)]
    if first and existing_accounts.has_facts(exchange.id):
        parts.append(t(f"existing.{exchange.id}"))
    parts.append(t(f"existing.q.{question.key}", name=exchange.name))
    return "\n\n".join(parts)


def verdict_text(t: Translator, exchange: ExchangeDTO, verdict: Verdict) -> str:
    return "\n\n".join((
        t("existing.title", name=exchange.name),
        t(f"existing.kind.{verdict.kind.value}"),
        t(f"existing.verdict.{verdict.key}", name=exchange.name),
    ))


async def show_first_question(
    query: CallbackQuery, t: Translator, exchange: ExchangeDTO, notice: str | None = None
) -> None:
    """The check's first screen: what the exchange allows, and the first question."""
    question = existing_accounts.first_question(exchange.id)
    text = question_text(t, exchange, question, first=True)
    if notice is not None:
        text = notice + "\n\n" + text
    await show(query, text, question_keyboard(t, exchange.id, "", question))


@router.callback_query(ExistingCB.filter())
async def on_existing_answer(
    query: CallbackQuery, callback_data: ExistingCB, t: Translator, user: UserDTO,
    exchanges: ExchangeCatalog, referrals: ReferralService, events: EventService,
    support_contact: str | None = None,
) -> None:
    exchange = await enabled_exchange(query, exchanges, callback_data.exchange_id, t)
    if exchange is None:
        return
    answers = callback_data.answers
    step = existing_accounts.next_step(exchange.id, answers)
    if step is None:  # a button of an older version of the questions, or forged
        await show_first_question(query, t, exchange, notice=t("existing.stale"))
        return
    if isinstance(step, Question):
        if not answers:
            await show_first_question(query, t, exchange)
            return
        await show(query, question_text(t, exchange, step, first=False),
                   question_keyboard(t, exchange.id, answers, step))
        return
    await events.record("existing_account_checked", user.id, Platform.BOT,
                        exchange=exchange.id, verdict=step.key)
    await show(query, verdict_text(t, exchange, step), verdict_keyboard(
        t, exchange, answers, step, referrals.tracked_url(exchange.id, user.id),
        support_url(support_contact)))
