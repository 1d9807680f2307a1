"""Middlewares attach context and measure; they hold no business logic. Their one user-facing
text, flood control's answer, comes from the catalog like every other."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TelegramUser
from prometheus_client import Counter, Histogram
from redis.asyncio import Redis

from services.dto import UserDTO
from services.i18n import Catalog, Translator
from services.models import Role
from services.outages import OUTAGE_RETRY_KEY
from services.users import UserService

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

HANDLER_SECONDS = Histogram(
    "bot_handler_duration_seconds", "Time spent in a bot handler", ["handler"]
)
UPDATES_DROPPED = Counter("bot_updates_dropped_total", "Updates not handled", ["reason"])


class FloodControlMiddleware(BaseMiddleware):
    """At most ``limit`` updates per user in each ``window`` seconds (shared by all web
    processes through Redis); the rest are dropped. Operators (a staff role in the database, or
    listed in ADMIN_IDS) are never limited: their commands and uploads come in bursts.

    The first dropped update of a window that can be answered gets one short answer in the
    sender's language (a message, or a toast for a button press), so nobody is left guessing;
    a Redis marker makes it one per window across all processes. The rest go in silence.

    Registered after UserContextMiddleware, whose ``user`` (the role) and ``t`` it reads; without
    them (used on its own) it limits everybody and takes the language from Telegram's
    ``language_code`` through ``catalog`` (with neither, and without a ``bot``, it only drops).
    """

    def __init__(
        self, redis: Redis, limit: int, window: int, prefix: str, *,
        catalog: Catalog | None = None,
        admin_ids: frozenset[int] = frozenset(), clock: Callable[[], float] = time.time,
    ):
        self._redis = redis
        self.limit = limit
        self.window = window
        self._prefix = prefix
        self._catalog = catalog
        self._admin_ids = admin_ids
        self._clock = clock  # tests move it to stay inside one window

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: TelegramUser | None = data.get("event_from_user")
        if user is None or self._is_operator(user, data.get("user")):
            return await handler(event, data)
        if data.get(OUTAGE_RETRY_KEY):  # counted when it first came; dropping it now loses it
            return await handler(event, data)
        bucket = int(self._clock()) // self.window
        key = f"{self._prefix}:flood:{user.id}:{bucket}"
        count = await self._redis.incr(key)
        if count == 1:  # the first update of this window sets its expiry
            await self._redis.expire(key, self.window * 2)
        if count > self.limit:
            UPDATES_DROPPED.labels("flood").inc()
            log.info("flood control: dropped an update of user %s", user.id)
            if isinstance(event, Update):
                await self._tell_once(event, data, user, key)
            return None
        return await handler(event, data)

    def _is_operator(self, sender: TelegramUser, user: UserDTO | None) -> bool:
        if sender.id in self._admin_ids:  # bootstrap admins, even before they registered
            return True
        return user is not None and not user.is_banned and user.role != Role.TRADER

    async def _tell_once(
        self, update: Update, data: dict[str, Any], sender: TelegramUser, key: str
    ) -> None:
        query, message = update.callback_query, update.message
        if query is None:
            if message is None:  # an edit, a member update…: nothing to answer
                return
            said = message.text or message.caption or ""
            # In a group, only what was meant for the bot (a command) gets an answer.
            if message.chat.type != "private" and not said.startswith("/"):
                return
        t: Translator | None = data.get("t")
        if t is None and self._catalog is not None:
            t = self._catalog.translator(self._catalog.resolve_locale(sender.language_code))
        bot: Bot | None = data.get("bot")
        if t is None or bot is None:
            return
        first = await self._redis.set(f"{key}:told", 1, nx=True, ex=self.window * 2)
        if not first and query is None:
            return  # this window's answer went out already (maybe from another process)
        try:
            if query is not None:
                # Every dropped press is answered (or its button spins until Telegram gives
                # up); only the first of the window with words.
                await bot.answer_callback_query(query.id, t("common.flood") if first else None)
            elif message is not None:
                await bot.send_message(message.chat.id, t("common.flood"))
        except TelegramAPIError as exc:  # blocked, an expired query, Telegram's own limit
            log.info("flood control: could not tell user %s (%s)", sender.id, type(exc).__name__)


class UserContextMiddleware(BaseMiddleware):
    """Puts ``user`` (a UserDTO, or None before registration) and ``t`` (the Translator of the
    user's locale) into the handler data. One primary-key read; no write."""

    def __init__(self, users: UserService, catalog: Catalog):
        self._users = users
        self._catalog = catalog

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TelegramUser | None = data.get("event_from_user")
        user = await self._users.get(tg_user.id) if tg_user else None
        locale = self._catalog.resolve_locale(
            user.locale if user else None, tg_user.language_code if tg_user else None
        )
        data["user"] = user
        data["t"] = self._catalog.translator(locale)
        return await handler(event, data)


class HandlerTimingMiddleware(BaseMiddleware):
    """Times each handler, labelled by its module (bounded; never a user id)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        handler_object = data.get("handler")
        callback = getattr(handler_object, "callback", None)
        label = getattr(callback, "__module__", "unknown")
        started = time.perf_counter()
        try:
            return await handler(event, data)
        finally:
            HANDLER_SECONDS.labels(label).observe(time.perf_counter() - started)
