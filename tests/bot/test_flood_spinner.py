"""Fast tapping: every button press that flood control drops must still be answered, or the
trader's client keeps the button's loading spinner until Telegram gives up on it.

The first dropped press of a window gets the toast with words; the ones after it an empty
answer.
"""

from __future__ import annotations

import itertools

import pytest
from aiogram import Dispatcher
from aiogram.methods import AnswerCallbackQuery

from handlers.callbacks import MenuCB, Screen
from handlers.middlewares import FloodControlMiddleware
from services.models import User
from tests.support.mocked_bot import MockedBot
from tests.support.updates import callback_update, tg_user

LIMIT = 2
_user_ids = itertools.count(44_000)


async def test_every_dropped_press_is_answered(
    db: str, dispatcher: Dispatcher, bot: MockedBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    (flood,) = [m for m in dispatcher.update.outer_middleware
                if isinstance(m, FloodControlMiddleware)]
    monkeypatch.setattr(flood, "limit", LIMIT)
    monkeypatch.setattr(flood, "window", 60)
    monkeypatch.setattr(flood, "_clock", lambda: 1_000_000 * 60 + 1.0)  # one window
    trader = tg_user(next(_user_ids), "en")
    await User.create(id=trader.id, first_name="Trader", telegram_language="en")
    press = MenuCB(screen=Screen.MAIN).pack()
    for _ in range(LIMIT):
        await dispatcher.feed_update(bot, callback_update(trader, press))
    bot.session.clear()
    presses = [callback_update(trader, press) for _ in range(4)]
    for update in presses:
        await dispatcher.feed_update(bot, update)
    answered = {call.callback_query_id for call in bot.session.calls
                if isinstance(call, AnswerCallbackQuery)}
    assert answered == {u.callback_query.id for u in presses if u.callback_query}
