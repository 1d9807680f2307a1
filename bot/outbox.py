"""Delivering the notification outbox to Telegram, at Telegram's limits, losing nothing.

Limits (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this): about
30 messages a second overall, 1 a second per chat, 20 a minute per group. A limiter is asked
before every send:

- ``LocalLimiter`` keeps its windows in this process: correct for one worker process only.
- ``RedisLimiter`` keeps them in Redis (one Lua script per decision, on Redis's clock), shared by
  every worker on the same Redis and prefix; the worker uses this one.

Both also carry the pauses Telegram asks for with a 429: the chat that got it waits
``retry_after``; when 429s hit two different chats within such a wait, it is a global flood and
every send waits.

Outcomes: sent → ``mark_sent`` (only after Telegram confirmed it); 429 → the row is rescheduled
after ``retry_after`` without using up an attempt; 403 (blocked, kicked) and 400 (chat not found,
…) → failed for good, no retries; network and 5xx errors → rescheduled with exponential backoff.
At-least-once: if the process dies between Telegram's answer and ``mark_sent``, the claim lease
runs out and the message is sent again; we prefer a rare duplicate to a lost message.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Protocol

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from redis.asyncio import Redis

from handlers.money import moment, money
from services.i18n import Catalog
from services.models import NotificationStatus
from services.notifications import NotificationDTO, NotificationService

log = logging.getLogger(__name__)

# Parameters that name a catalog text rather than carry a value: rendered in the recipient's
# language at delivery time. The value is a code ("not_found") or the full key.
CATALOG_PARAMS = {"reason": "accounts.reject.{}"}


@dataclass(frozen=True)
class TelegramLimits:
    global_per_second: int = 30
    chat_per_second: int = 1
    group_per_minute: int = 20
    # Windows are this much longer than Telegram's: our clock starts a window when we ask,
    # Telegram's when the request arrives, and network jitter must not make two sends to one
    # chat look closer than a second to Telegram.
    margin: float = 0.1

    def windows(self, chat_id: int) -> list[tuple[str, float, int]]:
        """(key, span in seconds, limit) of every window a send to ``chat_id`` counts in."""
        stretch = 1 + self.margin
        windows = [
            ("global", 1.0 * stretch, self.global_per_second),
            (f"chat:{chat_id}", 1.0 * stretch, self.chat_per_second),
        ]
        if chat_id < 0:  # groups, supergroups and channels have negative ids
            windows.append((f"group:{chat_id}", 60.0 * stretch, self.group_per_minute))
        return windows


class SendLimiter(Protocol):
    async def try_acquire(self, chat_id: int) -> float:
        """0: a send to ``chat_id`` may go now (and is counted); otherwise the seconds to wait
        before asking again (nothing is counted)."""

    async def pause(self, chat_id: int, seconds: float) -> None:
        """Telegram answered 429 with ``retry_after=seconds`` for this chat."""


@dataclass
class LocalLimiter:
    """Sliding windows in this process. Only correct for ONE delivering process: with several
    workers use ``RedisLimiter``."""

    limits: TelegramLimits = field(default_factory=TelegramLimits)
    clock: Callable[[], float] = time.monotonic
    _sent: dict[str, deque[float]] = field(default_factory=dict)
    _paused_until: dict[str, float] = field(default_factory=dict)
    _last_429: tuple[int, float] | None = None  # (chat id, until)

    async def try_acquire(self, chat_id: int) -> float:
        now = self.clock()
        wait = max(self._paused_until.get("global", 0.0), self._paused_until.get(
            f"chat:{chat_id}", 0.0)) - now
        windows = self.limits.windows(chat_id)
        for key, span, limit in windows:
            sent = self._sent.setdefault(key, deque())
            while sent and sent[0] <= now - span:
                sent.popleft()
            if len(sent) >= limit:
                wait = max(wait, sent[0] + span - now)
        if wait > 0:
            return wait
        for key, _, _ in windows:
            self._sent[key].append(now)
        return 0.0

    async def pause(self, chat_id: int, seconds: float) -> None:
        now = self.clock()
        until = now + seconds
        key = f"chat:{chat_id}"
        self._paused_until[key] = max(self._paused_until.get(key, 0.0), until)
        if self._last_429 is not None and self._last_429[0] != chat_id and self._last_429[1] > now:
            self._paused_until["global"] = max(self._paused_until.get("global", 0.0), until)
        self._last_429 = (chat_id, until)


# KEYS: global pause, chat pause, then one sorted set per window. ARGV: a unique member, then
# (span ms, limit) per window. Returns 0 (counted) or the milliseconds to wait (not counted).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i = 1, 2 do
  local untl = tonumber(redis.call('GET', KEYS[i]) or '0')
  if untl - now > wait then wait = untl - now end
end
local windows = #KEYS - 2
for i = 1, windows do
  local key, span, limit = KEYS[i + 2], tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local w = tonumber(oldest[2]) + span - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return math.max(1, math.ceil(wait)) end
for i = 1, windows do
  redis.call('ZADD', KEYS[i + 2], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i + 2], math.ceil(tonumber(ARGV[2 * i])))
end
return 0
"""

# KEYS: chat pause, global pause, last 429. ARGV: chat id, pause ms. A 429 on a chat other than
# the one of the last 429, while that one's wait still runs, means a global flood.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = tonumber(ARGV[2])
local untl = now + ms
local function extend(key)
  local current = tonumber(redis.call('GET', key) or '0')
  if untl > current then redis.call('SET', key, untl, 'PX', ms) end
end
extend(KEYS[1])
local last = redis.call('GET', KEYS[3])
if last and last ~= ARGV[1] then extend(KEYS[2]) end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ms)
return 0
"""


class RedisLimiter:
    """The same windows and pauses in Redis, shared by all workers (one Lua call per send)."""

    def __init__(
        self, redis: Redis, prefix: str, limits: TelegramLimits | None = None
    ) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:tglimit"
        self.limits = limits or TelegramLimits()
        self._acquire = redis.register_script(_ACQUIRE)
        self._pause = redis.register_script(_PAUSE)

    async def try_acquire(self, chat_id: int) -> float:
        windows = self.limits.windows(chat_id)
        keys = [f"{self._prefix}:pause:global", f"{self._prefix}:pause:chat:{chat_id}"]
        keys += [f"{self._prefix}:win:{key}" for key, _, _ in windows]
        args: list[str | int | float] = [uuid.uuid4().hex]
        for _, span, limit in windows:
            args += [round(span * 1000), limit]
        wait_ms = int(await self._acquire(keys=keys, args=args))
        return wait_ms / 1000

    async def pause(self, chat_id: int, seconds: float) -> None:
        keys = [f"{self._prefix}:pause:chat:{chat_id}", f"{self._prefix}:pause:global",
                f"{self._prefix}:last429"]
        await self._pause(keys=keys, args=[chat_id, max(1, round(seconds * 1000))])


def render(i18n: Catalog, note: NotificationDTO) -> str:
    """The text in the recipient's language now: Settings choice → Telegram's → default (chats
    that are not users, like the admin group, get the default). User data is escaped here."""
    t = i18n.translator(i18n.resolve_locale(note.user_locale, note.telegram_language))
    values: dict[str, str] = {}
    for name, value in note.params.items():
        if name in CATALOG_PARAMS and isinstance(value, str) and t.has(
                key := value if value.startswith(CATALOG_PARAMS[name].format(""))
                else CATALOG_PARAMS[name].format(value)):
            values[name] = t(key)  # a reason code; free text (finance's words) is kept as is
        elif name.endswith("_at") and isinstance(value, str):  # an ISO time, in the reader's words
            values[name] = _moment(value, t.locale)
        elif name.endswith("amount") and isinstance(value, str):  # money, as the reader writes it
            values[name] = _money(value, t.locale)
        elif isinstance(value, list):  # lines, each rendered with the key "<text_key>.<name>"
            values[name] = "\n".join(
                t(f"{note.text_key}.{name}", **_escaped(item, t.locale)) for item in value
                if isinstance(item, Mapping)
            )
        else:
            values[name] = _escape(value)
    return t(note.text_key, **values)


def _moment(value: str, locale: str) -> str:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return _escape(value)
    return moment(at if at.tzinfo else at.replace(tzinfo=UTC), locale)


def _money(value: str, locale: str) -> str:
    try:
        return money(Decimal(value), locale)
    except InvalidOperation:
        return _escape(value)


def _escape(value: object) -> str:
    return html.escape(str(value), quote=False)


def _escaped(item: Mapping[str, object], locale: str) -> dict[str, str]:
    return {str(key): _money(value, locale) if str(key).endswith("amount")
            and isinstance(value, str) else _escape(value) for key, value in item.items()}


@dataclass
class DeliveryStats:
    sent: int = 0
    rescheduled: int = 0
    failed: int = 0
    deferred: int = 0  # given back untried: the chat's next slot was too far away

    def __str__(self) -> str:
        return (f"sent {self.sent}, rescheduled {self.rescheduled}, failed {self.failed}, "
                f"deferred {self.deferred}")


class OutboxDelivery:
    """One delivery loop; any number may run at once, in one process or many."""

    def __init__(
        self,
        bot: Bot,
        notifications: NotificationService,
        i18n: Catalog,
        limiter: SendLimiter,
        *,
        batch_size: int = 30,
        max_wait: float = 1.5,
        request_timeout: int = 10,
    ) -> None:
        self._bot = bot
        self._notifications = notifications
        self._i18n = i18n
        self._limiter = limiter
        self._batch_size = batch_size
        # Waiting longer than this for a chat's slot holds a claimed row for nothing: it is
        # given back with not_before set to the slot, and the loop moves on.
        self._max_wait = max_wait
        self._request_timeout = request_timeout
        # No send may start so late that it could still be running when the claim runs out
        # (another loop would then send the row too).
        self._send_window = max(
            1.0, notifications.lease.total_seconds() - request_timeout - 5.0
        )

    async def run(self, budget: float) -> DeliveryStats:
        """Deliver due rows until none is left or ``budget`` seconds have passed."""
        stats = DeliveryStats()
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            batch = await self._notifications.claim_due(self._batch_size)
            if not batch:
                break
            await self._deliver_batch(batch, stats)
        return stats

    async def _deliver_batch(self, batch: list[NotificationDTO], stats: DeliveryStats) -> None:
        stop_at = time.monotonic() + self._send_window
        untried = deque(batch)
        try:
            while untried and time.monotonic() < stop_at:
                await self._deliver(untried.popleft(), stats)
        finally:
            # Rows not tried go back to the queue now rather than after the lease. A row whose
            # delivery was interrupted (cancelled, an error) stays claimed: it may have reached
            # Telegram, so its lease decides.
            if untried:
                await asyncio.shield(self._notifications.release([n.id for n in untried]))

    async def _deliver(self, note: NotificationDTO, stats: DeliveryStats) -> None:
        wait = await self._limiter.try_acquire(note.chat_id)
        while wait > 0:
            if wait > self._max_wait:
                await self._notifications.release(
                    [note.id], datetime.now(UTC) + timedelta(seconds=wait)
                )
                stats.deferred += 1
                return
            await asyncio.sleep(wait)
            wait = await self._limiter.try_acquire(note.chat_id)

        try:
            text = render(self._i18n, note)
        except (KeyError, IndexError, ValueError) as exc:
            # A key this process does not know yet (a rolling deploy) or bad parameters: retry
            # with backoff; after max_attempts the row fails and last_error says why.
            await self._retry(note, f"render: {exc!r}", stats)
            return

        try:
            await self._bot.send_message(
                note.chat_id, text, parse_mode=ParseMode.HTML,
                disable_notification=note.silent, request_timeout=self._request_timeout,
            )
        except TelegramRetryAfter as exc:
            await self._limiter.pause(note.chat_id, exc.retry_after)
            await self._notifications.reschedule(
                note.id, datetime.now(UTC) + timedelta(seconds=exc.retry_after),
                f"429: retry after {exc.retry_after}", count_attempt=False,
            )
            stats.rescheduled += 1
            log.warning("outbox: 429 for a chat, retry after %s s", exc.retry_after)
            return
        except (TelegramForbiddenError, TelegramBadRequest, TelegramMigrateToChat) as exc:
            # Blocked, kicked, chat not found, a text Telegram refuses: sending again will not
            # change the answer. (A group upgraded to a supergroup has a new id; the row names
            # the old one, so it fails visibly here.)
            await self._notifications.mark_failed(note.id, f"{type(exc).__name__}: {exc.message}")
            stats.failed += 1
            return
        except TelegramUnauthorizedError:
            # The token is wrong: no message can go. Not the rows' fault: give this one back
            # and fail the job loudly.
            await self._notifications.release([note.id])
            raise
        except TelegramAPIError as exc:  # network errors, timeouts, 5xx …
            await self._retry(note, f"{type(exc).__name__}: {exc.message}", stats)
            return
        # Telegram has the message. A crash before the next line sends it again later
        # (at-least-once).
        await self._notifications.mark_sent(note.id)
        stats.sent += 1

    async def _retry(self, note: NotificationDTO, error: str, stats: DeliveryStats) -> None:
        status = await self._notifications.reschedule(note.id, None, error)
        if status is NotificationStatus.FAILED:
            stats.failed += 1
            log.warning("outbox: notification %s failed for good: %s", note.id, error)
        else:
            stats.rescheduled += 1


def build_outbox(
    bot: Bot, notifications: NotificationService, i18n: Catalog, redis: Redis, redis_prefix: str
) -> OutboxDelivery:
    """The worker's delivery loop: the Redis limiter, so any number of workers share
    Telegram's limits."""
    return OutboxDelivery(bot, notifications, i18n, RedisLimiter(redis, redis_prefix))
