"""The arq worker: scheduled and queued jobs. Each job owns its resources through ``ctx`` and is
safe to run twice (it acts on the state of database rows, deduplicated by unique keys; arq's job
id only saves duplicate work)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.connections import ArqRedis, RedisSettings
from arq.cron import cron
from arq.worker import Worker, func

from bot.app import (
    Infrastructure,
    Services,
    build_services,
    create_bot,
    open_infrastructure,
    resolve_secret_key,
)
from bot.lifecycle import wait_for_signal
from bot.outbox import OutboxDelivery, build_outbox
from bot.settings import Settings
from services.i18n import Catalog
from services.jobs import enqueue_sync, queue_name
from services.rebates import RecordScope

log = logging.getLogger(__name__)

# The outbox is drained by a cron tick every 5 s, each run sending for up to 4 s.
DELIVERY_SECONDS = set(range(0, 60, 5))
DELIVERY_BUDGET_SECONDS = 4.0


async def heartbeat(ctx: dict[str, Any]) -> str:
    """Proves the worker is alive and can reach Redis."""
    infra: Infrastructure = ctx["infra"]
    await infra.redis.set(f"{ctx['settings'].redis_prefix}:worker:heartbeat", "1", ex=300)
    return "ok"


async def sync_exchange(ctx: dict[str, Any], exchange_id: str, trigger: str = "cron") -> str:
    """One exchange's sync (scheduled by sync_tick, or "sync now" from an admin), then the
    rebates of what it brought (and of UIDs it verified) are booked."""
    services: Services = ctx["services"]
    outcome = await services.sync.run(exchange_id, trigger)
    if outcome.status != "ok":
        return f"{exchange_id}: {outcome.status} {outcome.error_class or ''}"
    # What this run wrote lies in its window; UIDs verified now bring their whole history.
    since = outcome.window_start.date() if outcome.window_start else None
    booked = await services.rebates.accrue_all(
        scope=RecordScope(exchange_id=exchange_id, since_day=since))
    entries = booked.entries
    for uid in outcome.verified_uids:
        entries += (await services.rebates.accrue_account(exchange_id, uid)).entries
    return (f"{exchange_id}: ok, {outcome.records_new} new, {outcome.records_changed} changed, "
            f"{entries} ledger entries")


async def accrue_rebates(ctx: dict[str, Any], exchange_id: str) -> str:
    """Book the rebates of an exchange's new or revised records (after a CSV import)."""
    services: Services = ctx["services"]
    booked = await services.rebates.accrue_all(scope=RecordScope(exchange_id=exchange_id))
    return f"{exchange_id}: {booked.entries} ledger entries"


async def check_ledger(ctx: dict[str, Any]) -> str:
    """The invariant check: exports gauges; while it fails payouts are frozen (by the ledger)
    and the admin chat is told, once per failing hour."""
    services: Services = ctx["services"]
    settings: Settings = ctx["settings"]
    report = await services.ledger.check_invariants()
    if not report.ok and settings.admin_chat_id is not None:
        failing = ", ".join(f"{name}: {count}" for name, count in report.violations.items()
                            if count)
        await services.notifications.enqueue(
            f"ledger_check:{report.checked_at:%Y-%m-%dT%H}", settings.admin_chat_id,
            "ledger_alert", "admin.ledger_alert",
            {"failing": failing, "frozen": report.payouts_frozen},
        )
    return "ok" if report.ok else f"FAILED {report.violations}"


async def sync_tick(ctx: dict[str, Any]) -> list[str]:
    """Every minute: enqueue the sync of each exchange whose interval has passed. The job id
    keeps a slow exchange from being queued twice; the advisory lock in SyncService keeps two
    runs from overlapping even if it were."""
    services: Services = ctx["services"]
    redis: ArqRedis = ctx["redis"]
    due = await services.sync.due()
    for exchange_id in due:
        await enqueue_sync(redis, ctx["settings"].redis_prefix, exchange_id, "cron")
    return due


async def send_digests(ctx: dict[str, Any]) -> str:
    """Every morning: yesterday's accrual digest to each trader who wants it."""
    services: Services = ctx["services"]
    run = await services.digests.enqueue_for(datetime.now(UTC).date() - timedelta(days=1))
    return f"{run.day}: {run.enqueued} digests for {run.traders} traders"


async def deliver_notifications(ctx: dict[str, Any]) -> str:
    """Send due notifications from the outbox at Telegram's limits (bot/outbox.py).

    A short cron run rather than one job looping forever: arq does short jobs well. A job that
    never ends holds a slot, runs into job_timeout, and after a SIGKILL sits out the in-progress
    TTL before any worker resumes it; a tick simply runs again on whichever worker is alive,
    and with ``unique=True`` on one worker per tick. A run that overlaps the next one is still
    safe: each row carries its own claim lease, and the limiter lives in Redis.
    """
    outbox: OutboxDelivery | None = ctx.get("outbox")
    if outbox is None:
        return "no BOT_TOKEN: notifications wait in the outbox"
    return str(await outbox.run(budget=DELIVERY_BUDGET_SECONDS))


def worker_functions() -> list[Any]:
    return [
        func(heartbeat, name="heartbeat"),
        # keep_result=0: arq refuses a job id while a result of it is kept, and these ids are
        # meant to be reused as soon as the previous run has finished.
        func(sync_exchange, name="sync_exchange", timeout=1800, keep_result=0),
        func(accrue_rebates, name="accrue_rebates", timeout=1800, keep_result=0),
    ]


def cron_jobs() -> list[Any]:
    return [
        cron(sync_tick, name="sync_tick", second=0, run_at_startup=True, unique=True),
        cron(heartbeat, name="heartbeat_tick", second={0, 30}),
        cron(send_digests, name="send_digests", hour=8, minute=0, second=0, unique=True),
        cron(check_ledger, name="check_ledger", minute=set(range(0, 60, 10)), second=30,
             run_at_startup=True, unique=True, timeout=600),
        cron(deliver_notifications, name="deliver_notifications", second=DELIVERY_SECONDS,
             run_at_startup=True, unique=True, timeout=120),
    ]


def build_worker(settings: Settings, infra: Infrastructure, *, burst: bool = False) -> Worker:
    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["infra"] = infra
        ctx["settings"] = settings
        ctx["services"] = build_services(settings, resolve_secret_key(settings))
        await ctx["services"].events.start()
        if settings.bot_token is not None:
            ctx["bot"] = create_bot(settings)
            ctx["outbox"] = build_outbox(
                ctx["bot"], ctx["services"].notifications,
                Catalog.load(default_locale=settings.default_locale), infra.redis,
                settings.redis_prefix,
            )
        else:
            log.warning("BOT_TOKEN is not set: notifications stay in the outbox")

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await ctx["services"].events.close()
        if "bot" in ctx:
            await ctx["bot"].session.close()

    return Worker(
        functions=worker_functions(),
        cron_jobs=cron_jobs(),
        queue_name=queue_name(settings.redis_prefix),
        redis_settings=RedisSettings.from_dsn(infra.redis_url),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        burst=burst,
        handle_signals=False,
        max_jobs=10,
        # A job that was running when a worker died is retried (jobs are idempotent).
        max_tries=5,
    )


def run_worker(settings: Settings) -> None:
    async def main() -> None:
        infra = await open_infrastructure(settings)
        worker = build_worker(settings, infra)
        task = asyncio.create_task(worker.async_run())
        try:
            await wait_for_signal()
        finally:
            await worker.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await infra.close()

    asyncio.run(main())
