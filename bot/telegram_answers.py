"""A button press's answer that Telegram no longer takes is not a failure of the handler.

Telegram accepts one answer per callback query, within about 15 s of the press. A press that
met a store outage was answered at once ("temporarily unavailable", handlers/outage.py), and a
press handled late (retried after the outage, re-delivered by Telegram) finds its query too old:
the handler's work (the edited screen) is done by then, and only this courtesy call fails."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import AnswerCallbackQuery, Response, TelegramMethod
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)

_TOO_LATE = ("query is too old", "query id is invalid")


class LateCallbackAnswerMiddleware(BaseRequestMiddleware):
    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramBadRequest as exc:
            if not isinstance(method, AnswerCallbackQuery):
                raise
            if not any(words in exc.message.lower() for words in _TOO_LATE):
                raise
            log.info("a button press was answered too late (%s): ignored", exc.message)
            return Response[TelegramType](ok=True, result=True)  # type: ignore[arg-type]
