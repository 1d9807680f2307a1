"""The web process watches the worker's heartbeat and tells the admin chat when it goes stale
and when it is back. The web process sends these itself: the outbox is delivered by the worker,
the very process that is not running."""

from __future__ import annotations

import asyncio
import logging
import time

from aiogram import Bot
from redis.asyncio import Redis

from services.health import STALE_AFTER_SECONDS, heartbeat_age, is_stale
from services.i18n import Translator

log = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 15.0
_ALERT_TTL_SECONDS = 7 * 24 * 3600


class WorkerWatchdog:
    def __init__(self, bot: Bot, redis: Redis, prefix: str, admin_chat_id: int,
                 t: Translator):
        self._bot = bot
        self._redis = redis
        self._alert_key = f"{prefix}:worker:stale_alerted"
        self._prefix = prefix
        self._chat_id = admin_chat_id
        self._t = t
        # A heartbeat missing (Redis restarted empty, the worker just started) counts as stale
        # only once it has been missing as long as a stale one is old.
        self._missing_since: float | None = None

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception as exc:  # Redis or Telegram down: nothing to add, check again
                log.debug("worker watchdog: %s", exc)
            await asyncio.sleep(CHECK_EVERY_SECONDS)

    async def check(self) -> str:
        """One look: "stale", "back" or "ok" (alerts are sent once per stale episode, by
        whichever web process claims it in Redis first)."""
        age = await heartbeat_age(self._redis, self._prefix)
        if age is None:
            now = time.monotonic()
            self._missing_since = self._missing_since or now
            age = now - self._missing_since
        else:
            self._missing_since = None
        if is_stale(age):
            if await self._redis.set(self._alert_key, "1", nx=True, ex=_ALERT_TTL_SECONDS):
                log.error("the worker's heartbeat is %.0f s old: telling the admin chat", age)
                sent = await self._send(self._t("admin.worker.stale", seconds=int(age),
                                                limit=STALE_AFTER_SECONDS))
                if not sent:  # claimed but not told: the next look tries again
                    await self._redis.delete(self._alert_key)
            return "stale"
        if await self._redis.delete(self._alert_key):
            log.info("the worker's heartbeat is back")
            await self._send(self._t("admin.worker.back"))
            return "back"
        return "ok"

    async def _send(self, text: str) -> bool:
        try:
            await self._bot.send_message(self._chat_id, text)
        except Exception as exc:  # Telegram down or refusing: reported in the log instead
            log.warning("could not tell the admin chat about the worker: %s", exc)
            return False
        return True
