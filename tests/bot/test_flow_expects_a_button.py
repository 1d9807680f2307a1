"""A message where a step of the UID flow expects a button press: the bot says what the step
expects and sends the step's keyboard again; the flow goes on from there."""

from __future__ import annotations

import itertools

from aiogram import Dispatcher
from aiogram.types import InlineKeyboardMarkup

from handlers.callbacks import LinkAction, LinkCB
from services.models import ExchangeAccount
from tests.support.mocked_bot import MockedBot
from tests.support.updates import callback_update, message_update, tg_user

_user_ids = itertools.count(42_000)


async def send(dp: Dispatcher, bot: MockedBot, update) -> str:  # type: ignore[no-untyped-def]
    bot.session.clear()
    await dp.feed_update(bot, update)
    return "\n".join(bot.session.texts())


def callback_buttons(bot: MockedBot) -> list[str]:
    (call,) = [c for c in bot.session.calls if getattr(c, "reply_markup", None)]
    markup = call.reply_markup  # type: ignore[attr-defined]
    assert isinstance(markup, InlineKeyboardMarkup)
    return [b.callback_data for row in markup.inline_keyboard for b in row if b.callback_data]


async def test_text_while_choosing_the_exchange_resends_the_exchanges(
    db: str, dispatcher: Dispatcher, bot: MockedBot
) -> None:
    trader = tg_user(next(_user_ids), "en")
    await send(dispatcher, bot, message_update(trader, "/start"))
    await send(dispatcher, bot, callback_update(trader, LinkCB(action=LinkAction.START).pack()))
    text = await send(dispatcher, bot, message_update(trader, "okx"))
    assert text == "Choose the exchange with a button below, or /cancel."
    buttons = callback_buttons(bot)
    assert LinkCB(action=LinkAction.PICK, exchange_id="okx").pack() in buttons
    assert LinkCB(action=LinkAction.CANCEL).pack() in buttons
    # The flow is still there: the resent button works.
    text = await send(dispatcher, bot, callback_update(trader, LinkCB(
        action=LinkAction.PICK, exchange_id="okx").pack()))
    assert "Send your <b>OKX</b> UID" in text


async def test_text_while_confirming_resends_the_confirmation(
    db: str, dispatcher: Dispatcher, bot: MockedBot
) -> None:
    trader = tg_user(next(_user_ids), "ru")
    await send(dispatcher, bot, message_update(trader, "/start"))
    await send(dispatcher, bot, callback_update(trader, LinkCB(
        action=LinkAction.PICK, exchange_id="mexc").pack()))
    await send(dispatcher, bot, message_update(trader, "12345678"))
    text = await send(dispatcher, bot, message_update(trader, "да"))
    assert "Привязать UID <code>12345678</code> на <b>MEXC</b>?" in text
    assert "Ответьте кнопкой ниже" in text
    assert callback_buttons(bot) == [
        LinkCB(action=LinkAction.CONFIRM, exchange_id="mexc").pack(),
        LinkCB(action=LinkAction.CANCEL).pack(),
    ]
    assert await ExchangeAccount.filter(user_id=trader.id).count() == 0  # nothing linked yet
    await send(dispatcher, bot, callback_update(trader, LinkCB(
        action=LinkAction.CONFIRM, exchange_id="mexc").pack()))
    assert await ExchangeAccount.filter(user_id=trader.id, uid="12345678").count() == 1


async def test_commands_still_work_in_those_steps(
    db: str, dispatcher: Dispatcher, bot: MockedBot
) -> None:
    trader = tg_user(next(_user_ids), "en")
    await send(dispatcher, bot, message_update(trader, "/start"))
    await send(dispatcher, bot, callback_update(trader, LinkCB(action=LinkAction.START).pack()))
    assert "How CryptoRebate works" in await send(dispatcher, bot, message_update(trader, "/help"))
    assert "Cancelled" in await send(dispatcher, bot, message_update(trader, "/cancel"))
