"""Admin chat: exchange status (seed 000 §3), "sync now", and CSV imports with a dry run.

Every handler here requires the admin chat AND an operator role of the sender.
"""

from __future__ import annotations

import contextlib
import secrets
from datetime import UTC, datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from arq.connections import ArqRedis
from redis.asyncio import Redis

from handlers import keyboards
from handlers.admin.filters import HasRole, InAdminChat
from handlers.callbacks import CsvAction, CsvCB
from handlers.render import escape
from services.dto import UserDTO
from services.exchange_catalog import ExchangeCatalog
from services.i18n import MissingTranslation, Translator
from services.jobs import enqueue_accrual, enqueue_sync_now
from services.models import Role
from services.sync import CsvImportOutcome, ExchangeStatus, SyncService

router = Router(name="admin.exchanges")
router.message.filter(InAdminChat(), HasRole(Role.ADMIN, Role.OPS))
router.callback_query.filter(InAdminChat(), HasRole(Role.ADMIN, Role.OPS))

STATUS_ICONS = {ExchangeStatus.OK: "🟢", ExchangeStatus.LAG: "🟡", ExchangeStatus.ERROR: "🔴",
                ExchangeStatus.DISABLED: "⚪", ExchangeStatus.NOT_CONFIGURED: "⚫",
                ExchangeStatus.CSV: "📄"}
CSV_FORMATS = ("generic", "binance", "bitmart")
PENDING_IMPORT_SECONDS = 3600  # a previewed file can be imported within an hour
MAX_CSV_BYTES = 20 * 1024 * 1024  # Telegram bots can download files up to 20 MB


def _ago(t: Translator, moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return t("admin.never")
    minutes = int((now - moment).total_seconds() // 60)
    if minutes < 60:
        return t("admin.minutes_ago", n=max(minutes, 0))
    return t("admin.hours_ago", n=minutes // 60)


@router.message(Command("status"))
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


@router.message(Command("sync"))
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


@router.message(F.document, F.caption.startswith("/import"))
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
    text = await _download_text(bot, document.file_id)
    if text is None:
        await message.answer(t("admin.csv.not_text"))
        return
    outcome = await sync.import_csv(exchange.id, text, fmt, dry_run=True)
    if outcome.errors:
        await message.answer(render_import(t, outcome, exchange.name))
        return
    # Remember what was previewed; the buttons carry only a random token.
    token = secrets.token_urlsafe(8)
    await redis.set(f"{redis_prefix}:csv:{token}",
                    f"{exchange.id}|{fmt}|{document.file_id}", ex=PENDING_IMPORT_SECONDS)
    await message.answer(render_import(t, outcome, exchange.name),
                         reply_markup=keyboards.csv_confirm(t, token))


@router.callback_query(CsvCB.filter())
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
    try:
        outcome = await sync.import_csv(exchange_id, text, fmt, dry_run=False,
                                        actor_id=user.id)
    except Exception:
        # Nothing was imported (one transaction): the preview stays importable, so the press
        # retried after a store outage (handlers/outage.py), or pressed again, imports it.
        with contextlib.suppress(Exception):
            await redis.set(key, pending, ex=PENDING_IMPORT_SECONDS, nx=True)
        raise
    if not outcome.errors:
        await enqueue_accrual(arq, redis_prefix, exchange_id)
    await message.edit_text(render_import(t, outcome, exchange.name) + "\n"
                            + t("admin.csv.by", who=who))
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
