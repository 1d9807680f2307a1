"""When PostgreSQL or Redis is down while an update is handled: nobody is left in silence, and
the update is not consumed.

The sender is told once, in their language, that we are temporarily unavailable. Then:
- in webhook mode the error goes on to the webhook route, which answers 503, so Telegram delivers
  the update again (and the de-duplication marker is set only once it was handled);
- in long polling, getUpdates has already confirmed the update, so it is fed to the dispatcher
  again here, with backoff, for up to RETRY_FOR; a process that stops meanwhile loses it (the
  sender was told to try again).

Registered as an error handler: aiogram's ErrorsMiddleware is the outermost layer of every
update, around the FSM storage's Redis read as well as our handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import OrderedDict
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent, Update
from prometheus_client import Counter

from services.i18n import Catalog
from services.outages import (
    OUTAGE_RETRY_KEY,
    TELEGRAM_REDELIVERS,
    StoreUnavailable,
    is_store_outage,
)

log = logging.getLogger(__name__)

RETRY_FOR = 600.0  # seconds a polled update is retried for (the sender was told meanwhile)
RETRY_FIRST_DELAY = 1.0
RETRY_MAX_DELAY = 15.0
MAX_RETRYING = 1000  # updates waiting for a retry at once; beyond, the sender's notice must do
REMEMBERED_UPDATES = 10_000  # update ids whose sender was told (Telegram re-delivers the same)

STORE_OUTAGE_UPDATES = Counter(
    "bot_updates_store_unavailable_total",
    "Updates that met a store outage, by what happened to them", ["result"],
)


def _is_outage(event: ErrorEvent) -> bool:
    return is_store_outage(event.exception, foreign=(TelegramAPIError,))


class OutageResponder:
    def __init__(self, catalog: Catalog):
        self._catalog = catalog
        self._told: OrderedDict[int, None] = OrderedDict()
        self._retrying: dict[int, asyncio.Task[None]] = {}
        self._dispatcher: Dispatcher | None = None

    def register(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        dispatcher.errors.register(self.on_outage, _is_outage)

    async def close(self) -> None:
        tasks = list(self._retrying.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._retrying.clear()

    @property
    def retrying(self) -> int:
        return len(self._retrying)

    async def on_outage(self, event: ErrorEvent, bot: Bot, **data: Any) -> bool:
        update = event.update
        log.warning("update %s: a store is unavailable (%s: %s)", update.update_id,
                    type(event.exception).__name__, event.exception)
        await self._tell_once(bot, update)
        if data.get(OUTAGE_RETRY_KEY):  # a re-fed update failed again: its retry loop goes on
            raise StoreUnavailable(str(event.exception))
        if data.get(TELEGRAM_REDELIVERS):  # the webhook route answers 503: Telegram re-sends
            STORE_OUTAGE_UPDATES.labels("redelivery_asked").inc()
            raise StoreUnavailable(str(event.exception))
        self._schedule_retry(bot, update)
        return True

    async def _tell_once(self, bot: Bot, update: Update) -> None:
        if update.update_id in self._told:
            return
        self._told[update.update_id] = None
        while len(self._told) > REMEMBERED_UPDATES:
            self._told.popitem(last=False)
        with contextlib.suppress(Exception):  # Telegram may refuse (an old callback query)
            if await self._tell(bot, update):
                STORE_OUTAGE_UPDATES.labels("told").inc()

    async def _tell(self, bot: Bot, update: Update) -> bool:
        if update.callback_query is not None:
            query = update.callback_query
            text = self._text(query.from_user.language_code)
            await bot.answer_callback_query(query.id, text, show_alert=True)
            return True
        message = update.message or update.edited_message
        if message is None or message.from_user is None:
            return False
        said = message.text or message.caption or ""
        # In a group, only what was meant for the bot (a command) gets an answer.
        if message.chat.type != "private" and not said.startswith("/"):
            return False
        await bot.send_message(message.chat.id, self._text(message.from_user.language_code))
        return True

    def _text(self, language_code: str | None) -> str:
        translate = self._catalog.translator(self._catalog.resolve_locale(language_code))
        return translate("common.temporarily_unavailable")

    def _schedule_retry(self, bot: Bot, update: Update) -> None:
        if update.update_id in self._retrying:
            return
        if len(self._retrying) >= MAX_RETRYING:
            STORE_OUTAGE_UPDATES.labels("dropped").inc()
            log.error("update %s not retried: %d updates already wait for a store",
                      update.update_id, MAX_RETRYING)
            return
        task = asyncio.create_task(self._retry(bot, update))
        self._retrying[update.update_id] = task
        task.add_done_callback(lambda _: self._retrying.pop(update.update_id, None))

    async def _retry(self, bot: Bot, update: Update) -> None:
        assert self._dispatcher is not None
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + RETRY_FOR
        delay = RETRY_FIRST_DELAY
        while loop.time() < give_up_at:
            # Jittered: updates that failed together do not all come back at the same instant.
            await asyncio.sleep(delay * random.uniform(0.75, 1.25))
            try:
                await self._dispatcher.feed_update(bot, update, **{OUTAGE_RETRY_KEY: True})
            except StoreUnavailable:
                delay = min(delay * 2, RETRY_MAX_DELAY)
                continue
            except Exception:  # a bug, not an outage: logged like any other update's
                log.exception("update %s failed when retried", update.update_id)
                return
            STORE_OUTAGE_UPDATES.labels("retried_ok").inc()
            log.info("update %s handled after a store outage", update.update_id)
            return
        STORE_OUTAGE_UPDATES.labels("gave_up").inc()
        log.error("update %s given up after %.0f s of store outage", update.update_id, RETRY_FOR)
