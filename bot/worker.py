"""The arq worker: scheduled and queued jobs. Each job owns its resources through ``ctx`` and is
safe to run twice (it acts on the state of database rows, deduplicated by unique keys; arq's job
id only saves duplicate work)."""

from __future__ import annotations

import asyncio
import logging
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
from bot.outbox import OutboxDelivery, build_outbox
from bot.settings import Settings
from services.i18n import Catalog

log = logging.getLogger(__name__)

# The outbox is drained by a cron tick every 5 s, each run sending for up to 4 s.
DELIVERY_SECONDS = set(range(0, 60, 5))
DELIVERY_BUDGET_SECONDS = 4.0


def queue_name(redis_prefix: str) -> str:
    return f"{redis_prefix}:queue"


async def heartbeat(ctx: dict[str, Any]) -> str:
    """Proves the worker is alive and can reach Redis."""
    infra: Infrastructure = ctx["infra"]
    await infra.redis.set(f"{ctx['settings'].redis_prefix}:worker:heartbeat", "1", ex=300)
    return "ok"


async def sync_exchange(ctx: dict[str, Any], exchange_id: str, trigger: str = "cron") -> str:
    """One exchange's sync (scheduled by sync_tick, or "sync now" from an admin)."""
    services: Services = ctx["services"]
    outcome = await services.sync.run(exchange_id, trigger)
    return f"{outcome.exchange_id}: {outcome.status} {outcome.records_new} new"


async def sync_tick(ctx: dict[str, Any]) -> list[str]:
    """Every minute: enqueue the sync of each exchange whose interval has passed. The job id
    keeps a slow exchange from being queued twice; the advisory lock in SyncService keeps two
    runs from overlapping even if it were."""
    services: Services = ctx["services"]
    redis: ArqRedis = ctx["redis"]
    due = await services.sync.due()
    for exchange_id in due:
        await redis.enqueue_job("sync_exchange", exchange_id, "cron",
                                _job_id=f"sync:{exchange_id}",
                                _queue_name=queue_name(ctx["settings"].redis_prefix))
    return due


async def enqueue_sync_now(redis: ArqRedis, redis_prefix: str, exchange_id: str) -> bool:
    """For admins: run an exchange's sync now. False if one is queued or running already."""
    job = await redis.enqueue_job("sync_exchange", exchange_id, "manual",
                                  _job_id=f"sync:{exchange_id}",
                                  _queue_name=queue_name(redis_prefix))
    return job is not None


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
        func(sync_exchange, name="sync_exchange", timeout=1800),
    ]


def cron_jobs() -> list[Any]:
    return [
        cron(sync_tick, name="sync_tick", second=0, run_at_startup=True, unique=True),
        cron(heartbeat, name="heartbeat_tick", second={0, 30}),
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
        from bot.__main__ import _wait_for_signal

        infra = await open_infrastructure(settings)
        worker = build_worker(settings, infra)
        task = asyncio.create_task(worker.async_run())
        try:
            await _wait_for_signal()
        finally:
            await worker.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await infra.close()

    asyncio.run(main())
