"""A late answer to a button press (already answered during an outage, or past Telegram's
timeout) does not fail the handler; any other refusal still does."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import AnswerCallbackQuery, SendMessage

from bot.telegram_answers import LateCallbackAnswerMiddleware

TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


def refusing(message: str) -> Any:
    async def make_request(bot: Any, method: Any) -> Any:
        raise TelegramBadRequest(method, message)

    return make_request


async def test_a_late_answer_is_ignored() -> None:
    response = await LateCallbackAnswerMiddleware()(
        refusing(TOO_OLD), None, AnswerCallbackQuery(callback_query_id="1"))  # type: ignore[arg-type]
    assert response.ok and response.result is True


@pytest.mark.parametrize(("method", "message"), [
    (SendMessage(chat_id=1, text="x"), TOO_OLD),  # only answers are courtesy calls
    (AnswerCallbackQuery(callback_query_id="1"), "Bad Request: text is too long"),
])
async def test_other_refusals_still_fail(method: Any, message: str) -> None:
    with pytest.raises(TelegramBadRequest):
        await LateCallbackAnswerMiddleware()(refusing(message), None, method)  # type: ignore[arg-type]
