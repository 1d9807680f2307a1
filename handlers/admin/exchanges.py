"""Admin chat: exchange status (seed 000 §3), "sync now", and CSV imports with a dry run.

Every handler here requires the admin chat AND a role allowing it (services/permissions.py).

A large file's preview or import takes seconds; meanwhile one message shows how far it got
(`CsvProgress`): the preview's own message, posted as "Reading…" and edited into the preview;
at Confirm, the preview itself, edited into the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from arq.connections import ArqRedis
from redis.asyncio import Redis

from handlers import keyboards
from handlers.admin.filters import Allowed, InAdminChat
from handlers.callbacks import CsvAction, CsvCB
from handlers.render import escape
from services.dto import UserDTO
from services.exchange_catalog import ExchangeCatalog
from services.i18n import MissingTranslation, Translator
from services.jobs import enqueue_accrual, enqueue_sync_now
from services.permissions import Permission
from services.sync import CsvImportOutcome, ExchangeStatus, SyncService
from services.sync.csv_imports import PARSE

log = logging.getLogger(__name__)

router = Router(name="admin.exchanges")
router.message.filter(InAdminChat())
router.callback_query.filter(InAdminChat())

STATUS_ICONS = {ExchangeStatus.OK: "🟢", ExchangeStatus.LAG: "🟡", ExchangeStatus.ERROR: "🔴",
                ExchangeStatus.DISABLED: "⚪", ExchangeStatus.NOT_CONFIGURED: "⚫",
                ExchangeStatus.CSV: "📄"}
CSV_FORMATS = ("generic", "binance", "bitmart")
PENDING_IMPORT_SECONDS = 3600  # a previewed file can be imported within an hour
MAX_CSV_BYTES = 20 * 1024 * 1024  # Telegram bots can download files up to 20 MB
# Progress of a preview or an import: shown from the start for a file of ~20,000 rows or more
# (a generic export's line is ~70 bytes), and for any file once its work has taken SHOW_AFTER.
PROGRESS_BYTES = 1_400_000
PROGRESS_ROWS = 20_000
PROGRESS_SHOW_AFTER = 1.0  # seconds
# Telegram limits edits (in a group, ~20 messages a minute): one edit per PROGRESS_EVERY at
# most, and only for PROGRESS_STEP more percent (or a new stage), so ~10 edits a step at most.
PROGRESS_EVERY = 1.5  # seconds
PROGRESS_STEP = 10  # percent


def _ago(t: Translator, moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return t("admin.never")
    minutes = int((now - moment).total_seconds() // 60)
    if minutes < 60:
        return t("admin.minutes_ago", n=max(minutes, 0))
    return t("admin.hours_ago", n=minutes // 60)


@router.message(Command("status"), Allowed(Permission.EXCHANGES_VIEW))
async def cmd_status(message: Message, t: Translator, sync: SyncService) -> None:
    now = datetime.now(UTC)
    lines = [t("admin.status.title"), ""]
    for status in await sync.statuses():
        icon = STATUS_ICONS[status.status]
        if status.status is ExchangeStatus.NOT_CONFIGURED:
            lines.append(t("admin.status.not_configured_line", icon=icon, name=status.name,
                           env=f"EXCHANGE_{status.exchange_id.upper()}_API_KEY"))
            continue
        if status.status is ExchangeStatus.CSV:
            last = (_ago(t, status.last_success_at, now) if status.last_success_at
                    else t("admin.status.no_import"))
            lines.append(t("admin.status.csv_line", icon=icon, name=status.name, last=last))
            continue
        lines.append(t("admin.status.line", icon=icon, name=status.name,
                       status=t(f"admin.status.{status.status.value}"),
                       last=_ago(t, status.last_success_at, now)))
        if status.status is ExchangeStatus.ERROR:  # red always says why
            reason = (escape(status.last_error[:200]) if status.last_error
                      else t("admin.status.never_synced"))
            lines.append("    " + reason)
        if status.data_source == "api" and status.last_success_at is not None:
            lines.append(t("admin.status.reread", days=status.reread_days,
                           deep=_ago(t, status.last_deep_read_at, now)))
    await message.answer("\n".join(lines))


@router.message(Command("sync"), Allowed(Permission.SYNC))
async def cmd_sync(
    message: Message, command: CommandObject, t: Translator, exchanges: ExchangeCatalog,
    sync: SyncService, arq: ArqRedis, redis_prefix: str,
) -> None:
    exchange_id = (command.args or "").strip().lower()
    exchange = await exchanges.get(exchange_id) if exchange_id else None
    if exchange is None:
        known = ", ".join(e.id for e in await exchanges.list() if e.data_source == "api")
        if not exchange_id:
            await message.answer(t("admin.sync.usage") + "\n" + t("admin.sync.known", ids=known))
        else:
            await message.answer(t("admin.sync.unknown", given=escape(exchange_id[:40]),
                                   ids=known))
        return
    if exchange.data_source != "api":
        await message.answer(t("admin.sync.csv_only", name=exchange.name))
        return
    if not sync.is_configured(exchange.id):
        await message.answer(t("admin.sync.not_configured", name=exchange.name,
                               env=f"EXCHANGE_{exchange.id.upper()}_API_KEY"))
        return
    queued = await enqueue_sync_now(arq, redis_prefix, exchange.id)
    await message.answer(t("admin.sync.queued" if queued else "admin.sync.already",
                           name=exchange.name))


def _reason(t: Translator, code: str, detail: bool) -> str:
    """A bad line's reason in the operator's words, its code kept in parentheses."""
    try:
        text = t(f"admin.csv.reason.{code}")
    except MissingTranslation:
        return escape(code) + (":" if detail else "")
    return f"{text} ({escape(code)})" + (":" if detail else "")


def render_import(t: Translator, outcome: CsvImportOutcome, name: str) -> str:
    if outcome.errors:
        lines = [t("admin.csv.bad_file", name=name, count=len(outcome.errors))]
        for error in outcome.errors[:15]:
            lines.append(t("admin.csv.error_line", line=error.line,
                           reason=_reason(t, error.reason, bool(error.detail)),
                           detail=escape(error.detail or "")))
        if len(outcome.errors) > 15:
            lines.append(t("admin.csv.more_errors", count=len(outcome.errors) - 15))
        return "\n".join(lines)
    key = "admin.csv.preview" if outcome.dry_run else "admin.csv.imported"
    return t(key, name=name, rows=outcome.rows, new=outcome.new, changed=outcome.changed,
             unchanged=outcome.unchanged)


def render_progress(t: Translator, stage: str, percent: int, name: str, dry_run: bool) -> str:
    if stage == PARSE:
        return t("admin.csv.progress.reading", name=name, percent=percent)
    key = "admin.csv.progress.checking" if dry_run else "admin.csv.progress.importing"
    return t(key, name=name, percent=percent)


class CsvProgress:
    """The `on_progress` of a CSV preview or import (services.sync.csv_imports.Progress): one
    message, posted (or, given `message_id`, an existing one) once the work is large or slow,
    then edited as it advances, at most once per PROGRESS_EVERY. Sending and editing run in a
    task of their own: the import never waits for Telegram (a 429 retried by the session can
    take tens of seconds), and a refused edit only costs that edit. `finish` puts the step's
    result in the same message."""

    def __init__(self, bot: Bot, chat_id: int, render: Callable[[str, int], str],
                 message_id: int | None = None) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._render = render  # (stage, percent) -> the message's text
        self.message_id = message_id
        self._posts = message_id is None  # a message of its own, not yet sent
        self._clock = asyncio.get_running_loop().time
        self._started = self._clock()
        self._shown: tuple[str, int] | None = None  # the last stage and percent sent
        self._shown_at = 0.0
        self._stopped = False
        self._sending: asyncio.Task[None] | None = None

    async def __call__(self, stage: str, done: int, total: int) -> None:
        now = self._clock()
        percent = min(done * 100 // total, 100) if total > 0 else 100
        if self._stopped or (self._sending is not None and not self._sending.done()):
            return
        if self._shown is None:
            large = total >= (PROGRESS_BYTES if stage == PARSE else PROGRESS_ROWS)
            if not large and now - self._started < PROGRESS_SHOW_AFTER:
                return
        elif now - self._shown_at < PROGRESS_EVERY or (
                stage == self._shown[0] and percent < self._shown[1] + PROGRESS_STEP):
            return
        self._shown, self._shown_at = (stage, percent), now
        self._sending = asyncio.create_task(self._show(self._render(stage, percent)))

    async def _show(self, text: str) -> None:
        try:
            if self.message_id is None:
                sent = await self._bot.send_message(self._chat_id, text)
                self.message_id = sent.message_id
            else:
                await self._bot.edit_message_text(text, chat_id=self._chat_id,
                                                  message_id=self.message_id, reply_markup=None)
        except TelegramBadRequest as exc:
            if "message is not modified" not in exc.message:
                # The message is gone or cannot be edited: no more progress, the result is
                # sent as a message of its own.
                log.warning("CSV progress in chat %s stopped: %s", self._chat_id, exc.message)
                self._stopped = True
        except TelegramAPIError as exc:  # flood beyond the session's retries, network: skipped
            log.warning("CSV progress in chat %s: an update skipped: %s", self._chat_id, exc)

    async def _settle(self) -> None:
        """Wait for the update being sent; an edit is dropped, the result replaces it."""
        task, self._sending = self._sending, None
        if task is None:
            return
        if self.message_id is not None and not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def finish(self, text: str, reply_markup: InlineKeyboardMarkup | None = None) -> bool:
        """Put the result in the progress message. False when there is none to edit (nothing
        was shown) or it could not be edited: the caller sends the result instead."""
        await self._settle()
        if self.message_id is None or (self._posts and self._shown is None) or self._stopped:
            return False
        try:
            await self._bot.edit_message_text(text, chat_id=self._chat_id,
                                              message_id=self.message_id,
                                              reply_markup=reply_markup)
        except TelegramBadRequest as exc:
            if "message is not modified" in exc.message:
                return True
            log.warning("CSV result not shown in chat %s's progress message: %s",
                        self._chat_id, exc.message)
            return False
        except TelegramAPIError as exc:
            log.warning("CSV result not shown in chat %s's progress message: %s",
                        self._chat_id, exc)
            return False
        return True

    async def abandon(self, text: str | None = None,
                      reply_markup: InlineKeyboardMarkup | None = None) -> None:
        """The work failed: remove a message of its own, or put `text` back in an existing
        one. Best effort: the failure itself is what the caller reports."""
        await self._settle()
        if self._shown is None or self.message_id is None:
            return
        with contextlib.suppress(TelegramAPIError):
            if self._posts:
                await self._bot.delete_message(self._chat_id, self.message_id)
            elif text is not None:
                await self._bot.edit_message_text(text, chat_id=self._chat_id,
                                                  message_id=self.message_id,
                                                  reply_markup=reply_markup)


async def _reply(message: Message, progress: CsvProgress, text: str,
                 reply_markup: InlineKeyboardMarkup | None = None) -> None:
    """The step's result: in the progress message if one was shown, else a new message."""
    if not await progress.finish(text, reply_markup):
        await message.answer(text, reply_markup=reply_markup)


@router.message(F.document, F.caption.startswith("/import"), Allowed(Permission.SYNC))
async def on_csv_upload(
    message: Message, bot: Bot, t: Translator, sync: SyncService, exchanges: ExchangeCatalog,
    redis: Redis, redis_prefix: str,
) -> None:
    parts = (message.caption or "").split()
    exchange = await exchanges.get(parts[1].lower()) if len(parts) > 1 else None
    fmt = parts[2].lower() if len(parts) > 2 else "generic"
    if exchange is None or fmt not in CSV_FORMATS:
        await message.answer(t("admin.csv.usage"))
        return
    document = message.document
    assert document is not None
    if (document.file_size or 0) > MAX_CSV_BYTES:
        await message.answer(t("admin.csv.too_big"))
        return
    name = escape(document.file_name or exchange.name)
    progress = CsvProgress(bot, message.chat.id,
                           lambda stage, percent: render_progress(t, stage, percent, name, True))
    try:
        await progress(PARSE, 0, document.file_size or 0)  # a large file: shown while it downloads
        text = await _download_text(bot, document.file_id)
        if text is None:
            await _reply(message, progress, t("admin.csv.not_text"))
            return
        outcome = await sync.import_csv(exchange.id, text, fmt, dry_run=True,
                                        on_progress=progress)
        if outcome.errors:
            await _reply(message, progress, render_import(t, outcome, exchange.name))
            return
        # Remember what was previewed; the buttons carry only a random token.
        token = secrets.token_urlsafe(8)
        await redis.set(f"{redis_prefix}:csv:{token}",
                        f"{exchange.id}|{fmt}|{document.file_id}", ex=PENDING_IMPORT_SECONDS)
    except Exception:
        await progress.abandon()  # the retried upload (handlers/outage.py) shows its own
        raise
    await _reply(message, progress, render_import(t, outcome, exchange.name),
                 keyboards.csv_confirm(t, token))


@router.callback_query(CsvCB.filter(), Allowed(Permission.SYNC))
async def on_csv_decision(
    query: CallbackQuery, callback_data: CsvCB, bot: Bot, t: Translator, user: UserDTO,
    sync: SyncService, exchanges: ExchangeCatalog, redis: Redis, redis_prefix: str,
    arq: ArqRedis,
) -> None:
    key = f"{redis_prefix}:csv:{callback_data.token}"
    # GETDEL: a double click imports once; the second press finds nothing.
    pending = await redis.getdel(key)
    message = query.message
    if pending is None or not isinstance(message, Message):
        await query.answer(t("admin.csv.expired"), show_alert=True)
        return
    exchange_id, fmt, file_id = pending.decode().split("|", 2)
    who = escape(user.username or str(user.id))
    if callback_data.action is CsvAction.CANCEL:
        await message.edit_text(f"{message.html_text}\n\n{t('admin.csv.cancelled', who=who)}")
        await query.answer()
        return
    text = await _download_text(bot, file_id)
    exchange = await exchanges.get(exchange_id)
    if text is None or exchange is None:
        await query.answer(t("admin.csv.expired"), show_alert=True)
        return
    preview, name = message.html_text, exchange.name
    progress = CsvProgress(
        bot, message.chat.id, message_id=message.message_id,
        render=lambda stage, percent: preview + "\n\n" + render_progress(
            t, stage, percent, name, False))
    try:
        outcome = await sync.import_csv(exchange_id, text, fmt, dry_run=False,
                                        actor_id=user.id, on_progress=progress)
    except Exception:
        # Nothing was imported (one transaction): the preview stays importable, so the press
        # retried after a store outage (handlers/outage.py), or pressed again, imports it.
        with contextlib.suppress(Exception):
            await redis.set(key, pending, ex=PENDING_IMPORT_SECONDS, nx=True)
        await progress.abandon(preview, keyboards.csv_confirm(t, callback_data.token))
        raise
    if not outcome.errors:
        await enqueue_accrual(arq, redis_prefix, exchange_id)
    await _reply(message, progress,
                 render_import(t, outcome, exchange.name) + "\n" + t("admin.csv.by", who=who))
    await query.answer()


async def _download_text(bot: Bot, file_id: str) -> str | None:
    file = await bot.get_file(file_id)
    if file.file_path is None:
        return None
    data = await bot.download_file(file.file_path)
    if data is None:
        return None
    try:
        return data.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
