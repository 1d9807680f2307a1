"""Bot API calls that meet a 429 are sent again once Telegram's ``retry_after`` has passed,
instead of the reply being lost.

Telegram refuses a 429'd request before acting on it, so sending it again cannot duplicate
anything. The wait is bounded (a few retries, a few tens of seconds in all): a handler or a
webhook request must not hang behind a long flood wait; past the bound, the caller sees the
``TelegramRetryAfter`` as before. aiogram itself has no such request middleware (only logging).

Not for the notification outbox (bot/outbox.py): it reschedules a 429'd row with its own
limiter instead of waiting inside a send, so the worker builds its Bot without this.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)

MAX_RETRIES = 3
MAX_TOTAL_WAIT_SECONDS = 30.0
# Telegram's retry_after is whole seconds, counted from its clock: a little more, so the retry
# does not arrive a hair early and meet a second 429.
WAIT_MARGIN_SECONDS = 0.5


class RetryAfterMiddleware(BaseRequestMiddleware):
    def __init__(
        self, *, max_retries: int = MAX_RETRIES,
        max_total_wait: float = MAX_TOTAL_WAIT_SECONDS, margin: float = WAIT_MARGIN_SECONDS,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ):
        self.max_retries = max_retries
        self.max_total_wait = max_total_wait
        self.margin = margin
        self._sleep = sleep  # tests count the waits instead of waiting

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        waited = 0.0
        retries = 0
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                wait = exc.retry_after + self.margin
                name = type(method).__name__
                if retries >= self.max_retries or waited + wait > self.max_total_wait:
                    log.warning("Bot API %s: 429 (retry after %s s), given up after %d "
                                "retries and %.1f s", name, exc.retry_after, retries, waited)
                    raise
                retries += 1
                waited += wait
                log.warning("Bot API %s: 429, retry %d of %d in %.1f s", name, retries,
                            self.max_retries, wait)
                await self._sleep(wait)
