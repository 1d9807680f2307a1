"""Middlewares attach context and measure; they hold no business logic and no user-facing text."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TelegramUser
from prometheus_client import Counter, Histogram
from redis.asyncio import Redis

from services.i18n import Catalog
from services.users import UserService

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

HANDLER_SECONDS = Histogram(
    "bot_handler_duration_seconds", "Time spent in a bot handler", ["handler"]
)
UPDATES_DROPPED = Counter("bot_updates_dropped_total", "Updates not handled", ["reason"])


class FloodControlMiddleware(BaseMiddleware):
    """At most ``limit`` updates per user in each ``window`` seconds (shared by all web
    processes through Redis); the rest are dropped."""

    def __init__(self, redis: Redis, limit: int, window: int, prefix: str):
        self._redis = redis
        self._limit = limit
        self._window = window
        self._prefix = prefix

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: TelegramUser | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        bucket = int(time.time()) // self._window
        key = f"{self._prefix}:flood:{user.id}:{bucket}"
        count = await self._redis.incr(key)
        if count == 1:  # the first update of this window sets its expiry
            await self._redis.expire(key, self._window * 2)
        if count > self._limit:
            UPDATES_DROPPED.labels("flood").inc()
            log.info("flood control: dropped an update of user %s", user.id)
            return None
        return await handler(event, data)


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
