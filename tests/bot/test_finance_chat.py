"""The finance chat: a card per request that needs a human, decided inline; the card is edited
to who decided; a rejection asks for the reason the trader then reads."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage
from aiogram.types import CallbackQuery, Chat, Message, Update

from bot.app import Services
from bot.payout_jobs import post_cards
from bot.settings import Settings
from services.i18n import Catalog
from services.models import Notification, PayoutMethod, Role, Withdrawal, WithdrawalStatus
from services.payouts.requests import Destination
from tests.payouts.helpers import TRON, funded_trader, ready_address, staff, withdrawals
from tests.support.mocked_bot import BOT_USER, MockedBot
from tests.support.updates import message_update, tg_user

D = Decimal
pytestmark = pytest.mark.usefixtures("db")
_ids = itertools.count(8_000_000)


def finance_chat(settings: Settings) -> Chat:
    assert settings.finance_chat_id is not None
    return Chat(id=settings.finance_chat_id, type="supergroup", title="Finance")


def click(settings: Settings, user_id: int, data: str, message_id: int) -> Update:
    return Update(update_id=next(_ids), callback_query=CallbackQuery(
        id=str(next(_ids)), from_user=tg_user(user_id), chat_instance="finance", data=data,
        message=Message(message_id=message_id, date=datetime.now(UTC),
                        chat=finance_chat(settings), from_user=BOT_USER, text="card")))


def reply(settings: Settings, user_id: int, text: str, to_message_id: int) -> Update:
    chat = finance_chat(settings)
    question = Message(message_id=to_message_id, date=datetime.now(UTC), chat=chat,
                       from_user=BOT_USER, text="?")
    return Update(update_id=next(_ids), message=Message(
        message_id=next(_ids), date=datetime.now(UTC), chat=chat, from_user=tg_user(user_id),
        text=text, reply_to_message=question))


async def pending_request(amount: Decimal) -> int:
    service = withdrawals()
    user_id, _ = await funded_trader(amount + 50)
    address = await ready_address(service, user_id, "USDT-TRC20", TRON)
    made = await service.create(user_id, Destination(PayoutMethod.ONCHAIN, "USDT-TRC20",
                                                     address.id), amount)
    assert made.status is WithdrawalStatus.AWAITING_APPROVAL
    return made.id


async def cards(settings: Settings, services: Services, i18n: Catalog, bot: MockedBot) -> int:
    ctx: dict[str, Any] = {"settings": settings, "services": services, "i18n": i18n, "bot": bot}
    return await post_cards(ctx)


def buttons(call: SendMessage | EditMessageText) -> list[str]:
    markup = call.reply_markup
    return [b.callback_data or "" for row in markup.inline_keyboard  # type: ignore[union-attr]
            for b in row]


async def test_a_card_is_posted_once_and_approved_inline(
        dispatcher: Dispatcher, bot: MockedBot, settings: Settings, services: Services,
        i18n: Catalog) -> None:
    withdrawal_id = await pending_request(D("800"))
    assert await cards(settings, services, i18n, bot) == 1
    assert await cards(settings, services, i18n, bot) == 0  # nothing changed: no second card
    [card] = [c for c in bot.session.calls if isinstance(c, SendMessage)]
    assert card.chat_id == settings.finance_chat_id
    assert f"Withdrawal #{withdrawal_id}" in card.text and "800.00" in card.text
    assert "first withdrawal" in card.text and TRON in card.text
    approve, reject = buttons(card)
    row = await Withdrawal.get(id=withdrawal_id)
    assert row.card_message_id is not None

    ops = await staff(Role.OPS)
    bot.session.clear()
    await dispatcher.feed_update(bot, click(settings, ops, approve, row.card_message_id))
    [answer] = [c for c in bot.session.calls if isinstance(c, AnswerCallbackQuery)]
    assert answer.show_alert and "Only finance" in (answer.text or "")
    assert (await Withdrawal.get(id=withdrawal_id)).status is WithdrawalStatus.AWAITING_APPROVAL

    finance = await staff()
    bot.session.clear()
    await dispatcher.feed_update(bot, click(settings, finance, approve, row.card_message_id))
    [edited] = [c for c in bot.session.calls if isinstance(c, EditMessageText)]
    assert edited.message_id == row.card_message_id and "approved" in edited.text
    assert "Decided by finance, " in edited.text and edited.reply_markup is None
    assert (await Withdrawal.get(id=withdrawal_id)).status is WithdrawalStatus.APPROVED
    assert await cards(settings, services, i18n, bot) == 0  # the card shows this state already

    bot.session.clear()  # the same button again: one decision only
    await dispatcher.feed_update(bot, click(settings, finance, approve, row.card_message_id))
    [again] = [c for c in bot.session.calls if isinstance(c, AnswerCallbackQuery)]
    assert "decided already" in (again.text or "")


async def test_a_rejection_asks_for_the_reason_the_trader_reads(
        dispatcher: Dispatcher, bot: MockedBot, settings: Settings, services: Services,
        i18n: Catalog) -> None:
    withdrawal_id = await pending_request(D("900"))
    await cards(settings, services, i18n, bot)
    [card] = [c for c in bot.session.calls if isinstance(c, SendMessage)]
    _, reject = buttons(card)
    row = await Withdrawal.get(id=withdrawal_id)
    finance = await staff()
    bot.session.clear()
    await dispatcher.feed_update(bot, click(settings, finance, reject, row.card_message_id or 0))
    [ask] = [c for c in bot.session.calls if isinstance(c, SendMessage)]
    assert "why is withdrawal" in ask.text and ask.chat_id == settings.finance_chat_id
    asked = bot.session.sent[-1].message_id

    bot.session.clear()  # a message that is no reply to the question is not the reason
    await dispatcher.feed_update(bot, message_update(tg_user(finance), "lunch, back in 5",
                                                     finance_chat(settings)))
    assert "reply to my question" in "\n".join(bot.session.texts())
    await dispatcher.feed_update(bot, reply(settings, finance, "   ", asked))
    assert (await Withdrawal.get(id=withdrawal_id)).status is WithdrawalStatus.AWAITING_APPROVAL
    await dispatcher.feed_update(bot, reply(settings, finance, "The address belongs to a mixer",
                                            asked))
    rejected = await Withdrawal.get(id=withdrawal_id)
    assert rejected.status is WithdrawalStatus.REJECTED
    assert rejected.reason == "The address belongs to a mixer"
    note = await Notification.get(dedupe_key=f"withdrawal:{withdrawal_id}:rejected")
    assert note.text_key == "notify.withdrawal.rejected"
    edited = [c for c in bot.session.calls if isinstance(c, EditMessageText)]
    assert edited and "rejected" in edited[-1].text and "mixer" in edited[-1].text


async def test_a_stale_card_cannot_approve(
        dispatcher: Dispatcher, bot: MockedBot, settings: Settings, services: Services,
        i18n: Catalog) -> None:
    withdrawal_id = await pending_request(D("700"))
    await cards(settings, services, i18n, bot)
    [card] = [c for c in bot.session.calls if isinstance(c, SendMessage)]
    approve, _ = buttons(card)
    await Withdrawal.filter(id=withdrawal_id).update(revision=5)  # changed since it was drawn
    finance = await staff()
    bot.session.clear()
    await dispatcher.feed_update(bot, click(settings, finance, approve, 1))
    [answer] = [c for c in bot.session.calls if isinstance(c, AnswerCallbackQuery)]
    assert "changed since" in (answer.text or "")
    assert (await Withdrawal.get(id=withdrawal_id)).status is WithdrawalStatus.AWAITING_APPROVAL


async def test_a_request_waiting_over_4_hours_is_told_once_and_then_resolved(
        settings: Settings, services: Services) -> None:
    from bot.payout_jobs import payout_alerts

    withdrawal_id = await pending_request(D("650"))
    ctx: dict[str, Any] = {"settings": settings, "services": services}
    assert await payout_alerts(ctx) == 0  # just placed
    await Withdrawal.filter(id=withdrawal_id).update(
        created_at=datetime.now(UTC) - timedelta(hours=5))
    assert await payout_alerts(ctx) == 1
    assert await payout_alerts(ctx) == 1  # still true, but told once while it lasts
    [alert] = await Notification.filter(kind="alert")
    assert alert.chat_id == settings.admin_chat_id
    assert alert.text_key == "admin.alert.payout_pending_old"
    await Withdrawal.filter(id=withdrawal_id).update(status=WithdrawalStatus.REJECTED)
    assert await payout_alerts(ctx) == 0
    assert await payout_alerts(ctx) == 0
    told = [n.text_key for n in await Notification.filter(kind="alert").order_by("id")]
    assert told == ["admin.alert.payout_pending_old", "admin.alert_resolved.payout_pending_old"]


async def test_failures_above_5_percent_of_an_hour_are_an_alert(
        settings: Settings, services: Services) -> None:
    from bot.payout_jobs import payout_alerts

    ids = [await pending_request(D("600")) for _ in range(3)]
    await Withdrawal.filter(id__in=ids[:2]).update(status=WithdrawalStatus.COMPLETED)
    await Withdrawal.filter(id=ids[2]).update(status=WithdrawalStatus.ERROR)
    assert await payout_alerts({"settings": settings, "services": services}) == 1
    assert await Notification.filter(text_key="admin.alert.payout_failure_rate").count() == 1


async def test_a_payout_without_a_clear_answer_for_an_hour_is_an_alert(
        settings: Settings, services: Services) -> None:
    from bot.payout_jobs import payout_alerts

    withdrawal_id = await pending_request(D("620"))
    await Withdrawal.filter(id=withdrawal_id).update(
        status=WithdrawalStatus.UNKNOWN, submitted_at=datetime.now(UTC) - timedelta(hours=2))
    assert await payout_alerts({"settings": settings, "services": services}) == 1
    assert await Notification.exists(text_key="admin.alert.payout_outcome_unknown")
