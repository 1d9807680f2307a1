"""The arq worker: scheduled and queued jobs. Each job owns its resources through ``ctx`` and is
safe to run twice (it acts on the state of database rows, deduplicated by unique keys; arq's job
id only saves duplicate work)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.connections import ArqRedis, RedisSettings
from arq.constants import in_progress_key_prefix
from arq.cron import cron
from arq.worker import Worker, func

from bot.alert_jobs import check_alerts
from bot.app import (
    Infrastructure,
    Services,
    build_services,
    create_bot,
    open_infrastructure,
    resolve_secret_key,
)
from bot.audit_jobs import check_audit_chain
from bot.broadcast_jobs import broadcast_progress
from bot.lifecycle import wait_for_signal
from bot.outbox import OutboxDelivery, build_outbox
from bot.payout_jobs import pay_withdrawal, payout_tick
from bot.settings import Settings
from bot.supervisor import supervise_worker
from services.health import HEARTBEAT_EVERY_SECONDS, write_heartbeat
from services.i18n import Catalog
from services.jobs import enqueue_sync, queue_name, sync_job_id
from services.rebates import RecordScope
from services.rebates.audit import check_books
from services.sync import SyncOutcome

log = logging.getLogger(__name__)

# The outbox is drained by a cron tick every 5 s, each run sending for up to 4 s.
DELIVERY_SECONDS = set(range(0, 60, 5))
DELIVERY_BUDGET_SECONDS = 4.0
# Longest expected runs: a first sync or deep re-read of one exchange (tens of rate-limited
# calls per day read), a booking walk over a million records (about two minutes).
SYNC_TIMEOUT_SECONDS = 1800
ACCRUAL_TIMEOUT_SECONDS = 900
ORPHAN_AFTER = timedelta(seconds=5)
MAX_JOBS = 10
# A sync job holds up to four connections at once (its job lock, its run lock or the booking
# walk's reader and writer, and a query): enough for MAX_JOBS of them, so none waits on another.
WORKER_POOL_MAX = 4 * MAX_JOBS
# A record stored less than this long ago may be being booked right now: not yet "unbooked".
BOOKING_GRACE = timedelta(minutes=15)


class HeartbeatWorker(Worker):
    """arq's Worker, writing our heartbeat (services/health.py: read by /healthz, the metric
    and the web process's watchdog) from its poll loop. Not a job: jobs wait for a free slot,
    and ten long syncs would make a living worker look dead; the poll loop runs every half
    second whatever the jobs do, and stops exactly when the worker stops taking jobs."""

    _last_beat = 0.0

    async def heart_beat(self) -> None:
        await super().heart_beat()
        now = time.monotonic()
        if now - self._last_beat >= HEARTBEAT_EVERY_SECONDS and "infra" in self.ctx:
            await write_heartbeat(self.ctx["infra"].redis, self.ctx["settings"].redis_prefix)
            self._last_beat = now


async def sync_exchange(ctx: dict[str, Any], exchange_id: str, trigger: str = "cron") -> str:
    """One exchange's sync (scheduled by sync_tick, or "sync now" from an admin), then whatever
    of that exchange is unbooked is booked.

    Booking follows what is unbooked, not what this run saw: a run that died after storing
    records or verifying UIDs and before booking them leaves records only such a walk finds.
    A scheduled job that is retried after its worker died skips the sync when another run has
    done it meanwhile, and still books."""
    services: Services = ctx["services"]
    async with services.sync.job(exchange_id) as ours:
        if not ours:
            return f"{exchange_id}: another worker's job is on it"
        outcome: SyncOutcome | None = None
        if trigger == "cron" and exchange_id not in await services.sync.due():
            # Retried after its worker died, and the sync was done: finish what followed it.
            verified = await services.sync.verify_from_records()
            result = f"{exchange_id}: not due, {verified} UIDs verified from its records"
        else:
            outcome = await services.sync.run(exchange_id, trigger)
            result = f"{exchange_id}: {outcome.status} {outcome.error_class or ''}".rstrip()
            if outcome.status == "ok":
                result += f", {outcome.records_new} new, {outcome.records_changed} changed"
        booked = await services.rebates.accrue_all(scope=RecordScope(exchange_id=exchange_id))
        if trigger == "manual" and outcome is not None:
            await report_manual_sync(ctx, outcome, booked.entries)
    return f"{result}, {booked.entries} ledger entries"


async def report_manual_sync(ctx: dict[str, Any], outcome: SyncOutcome, entries: int) -> None:
    """An operator's /sync gets its result posted in the admin chat once the job ends."""
    settings: Settings = ctx["settings"]
    services: Services = ctx["services"]
    if settings.admin_chat_id is None:
        return
    exchange = await services.exchanges.get(outcome.exchange_id)
    name = exchange.name if exchange is not None else outcome.exchange_id
    if outcome.status == "ok":
        key, params = "admin.sync.done", {
            "name": name, "new": outcome.records_new, "changed": outcome.records_changed,
            "verified": outcome.verified, "rejected": outcome.rejected, "entries": entries}
    else:
        key, params = "admin.sync.failed", {
            "name": name, "reason": (outcome.error or outcome.error_class or outcome.status)[:300]}
    dedupe = f"sync_result:{outcome.run_id or outcome.exchange_id + ':' + outcome.status}"
    await services.notifications.enqueue(dedupe, settings.admin_chat_id, "sync_result", key,
                                         params)


async def check_new_uid(ctx: dict[str, Any], account_id: int) -> str:
    """A UID just linked: ask its exchange now; the trader is told the answer."""
    services: Services = ctx["services"]
    lookup, _ = await services.sync.check_new_uid(account_id)
    return f"account {account_id}: {lookup}"


async def accrue_rebates(ctx: dict[str, Any], exchange_id: str) -> str:
    """Book the rebates of an exchange's new or revised records (after a CSV import)."""
    services: Services = ctx["services"]
    booked = await services.rebates.accrue_all(scope=RecordScope(exchange_id=exchange_id))
    return f"{exchange_id}: {booked.entries} ledger entries"


async def book_unbooked(ctx: dict[str, Any]) -> str:
    """Every few minutes: book every record of a verified account that has no accrual for its
    current version, whichever job should have booked it (a safety net under sync and import:
    cheap when there is nothing to book)."""
    services: Services = ctx["services"]
    verified = await services.sync.verify_from_records()
    booked = await services.rebates.accrue_all()
    return (f"{verified} UIDs verified, {booked.entries} ledger entries, "
            f"{booked.waiting} records that cannot be valued yet")


async def apply_due_shares(ctx: dict[str, Any]) -> str:
    """Hourly: a trader share set for a later day is shown from that day on."""
    return f"{await ctx['services'].rates.apply_due_shares()} exchanges' shares took effect"


async def check_ledger(ctx: dict[str, Any]) -> str:
    """The invariant check: exports gauges; while it fails payouts are frozen (by the ledger)
    and the admin chat is told when it starts failing and when it passes again."""
    services: Services = ctx["services"]
    settings: Settings = ctx["settings"]
    report = await services.ledger.check_invariants()
    books = await check_books(now=datetime.now(UTC), grace=BOOKING_GRACE)
    ok = report.ok and books.ok
    firing = {}
    if not ok:
        firing[""] = {"failing": "; ".join(filter(None, (
            ", ".join(f"{name}: {count}" for name, count in report.violations.items() if count),
            books.describe(),
        ))), "frozen": report.payouts_frozen}
    # Told when it starts failing and when it passes again (services/alerts.py).
    await services.alerts.report("ledger_check", firing, settings.admin_chat_id,
                                 message_key="admin.ledger_alert")
    if ok:
        return "ok"
    return f"FAILED {report.violations} {books.describe()}".rstrip()


async def sync_tick(ctx: dict[str, Any]) -> list[str]:
    """Every 15 s: enqueue the sync of each exchange whose interval has passed. The job id
    keeps a slow exchange from being queued twice; the advisory lock in SyncService keeps two
    runs from overlapping even if it were."""
    services: Services = ctx["services"]
    redis: ArqRedis = ctx["redis"]
    prefix = ctx["settings"].redis_prefix
    await recover_orphaned_syncs(ctx)
    await services.sync.close_interrupted_runs()
    due = await services.sync.due()
    deep = set(await services.sync.deep_read_due())
    for exchange_id in due:
        # A deep re-read takes the place of a due regular sync, never adds one: a failing
        # one backs off like any failed sync (next_due_at) instead of repeating every tick.
        await enqueue_sync(redis, prefix, exchange_id, "deep" if exchange_id in deep else "cron")
    return due


async def recover_orphaned_syncs(ctx: dict[str, Any]) -> list[str]:
    """Free the sync jobs whose worker died, so that they run again now.

    arq keeps a started job's in-progress key until it expires (the longest job timeout plus
    10 s); until then no worker runs the job again, and its id refuses a new "sync now". A
    live sync job holds the exchange's job lock (SyncService.job) from its first milliseconds
    to its end, booking included, and the database drops it with a dead worker's connection:
    when nobody holds it and the key is older than ORPHAN_AFTER, the key is removed and arq
    retries the job at once.
    """
    redis: ArqRedis = ctx["redis"]
    services: Services = ctx["services"]
    ttl_ms: int = ctx["in_progress_ttl_ms"]
    prefix = ctx["settings"].redis_prefix
    freed = []
    pattern = in_progress_key_prefix + sync_job_id(prefix, "*")
    async for raw in redis.scan_iter(match=pattern):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        exchange_id = key.rsplit(":", 1)[1]
        left = await redis.pttl(key)
        if left < 0 or ttl_ms - left < ORPHAN_AFTER.total_seconds() * 1000:
            continue
        if await services.sync.is_idle(exchange_id) and await redis.delete(key):
            log.warning("sync job of %s was left by a dead worker: retried now", exchange_id)
            freed.append(exchange_id)
    return freed


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
        # keep_result=0: arq refuses a job id while a result of it is kept, and these ids are
        # meant to be reused as soon as the previous run has finished.
        func(sync_exchange, name="sync_exchange", timeout=SYNC_TIMEOUT_SECONDS, keep_result=0),
        func(accrue_rebates, name="accrue_rebates", timeout=ACCRUAL_TIMEOUT_SECONDS,
             keep_result=0),
        func(check_new_uid, name="check_new_uid", timeout=60, keep_result=0),
        func(pay_withdrawal, name="pay_withdrawal", timeout=120, keep_result=0),
    ]


def cron_jobs(prefix: str = "") -> list[Any]:
    """The scheduled jobs. arq names a unique cron run ``<name>:<time>`` in its global job
    namespace, so two deployments sharing a Redis (REDIS_PREFIX) would each see the other's
    runs as their own and skip theirs: the names carry the prefix (``cr.sync_tick``)."""
    jobs = [
        # Every 15 s: what is due is queued within seconds, and so is a sync whose worker died.
        cron(sync_tick, name="sync_tick", second={0, 15, 30, 45}, run_at_startup=True,
             unique=True),
        cron(send_digests, name="send_digests", hour=8, minute=0, second=0, unique=True),
        cron(book_unbooked, name="book_unbooked", minute=set(range(5, 60, 10)), second=15,
             run_at_startup=True, unique=True, timeout=ACCRUAL_TIMEOUT_SECONDS),
        cron(check_ledger, name="check_ledger", minute=set(range(0, 60, 10)), second=30,
             run_at_startup=True, unique=True, timeout=600),
        cron(broadcast_progress, name="broadcast_progress", second=set(range(3, 60, 10)),
             run_at_startup=True, unique=True, timeout=60),
        cron(apply_due_shares, name="apply_due_shares", minute=0, second=5,
             run_at_startup=True, unique=True, timeout=60),
        cron(check_alerts, name="check_alerts", minute=set(range(2, 60, 5)), second=40,
             run_at_startup=True, unique=True, timeout=120),
        cron(check_audit_chain, name="check_audit_chain", minute=45, second=0,
             run_at_startup=True, unique=True, timeout=600),
        cron(deliver_notifications, name="deliver_notifications", second=DELIVERY_SECONDS,
             run_at_startup=True, unique=True, timeout=120),
        # Every 15 s: approved withdrawals are paid and open ones followed at the exchange.
        cron(payout_tick, name="payout_tick", second={5, 20, 35, 50}, run_at_startup=True,
             unique=True, timeout=300),
    ]
    for job in jobs:
        job.name = f"{prefix}.{job.name}" if prefix else job.name
    return jobs


def job_name(cron_job: Any) -> str:
    """A cron job's own name, without the deployment's prefix."""
    return str(cron_job.name).rsplit(".", 1)[-1]


def build_worker(settings: Settings, infra: Infrastructure, *, burst: bool = False) -> Worker:
    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["infra"] = infra
        ctx["settings"] = settings
        ctx["services"] = build_services(settings, resolve_secret_key(settings))
        ctx["i18n"] = Catalog.load(default_locale=settings.default_locale)
        await ctx["services"].events.start()
        # Exchange credentials stored under SECRET_KEY_PREVIOUS, re-encrypted under SECRET_KEY.
        await ctx["services"].credentials.rotate_all()
        if settings.bot_token is not None:
            # No waiting inside a send: the outbox reschedules a 429'd notification itself.
            ctx["bot"] = create_bot(settings, retry_after_429=False)
            ctx["outbox"] = build_outbox(
                ctx["bot"], ctx["services"].notifications,
                ctx["i18n"], infra.redis,
                settings.redis_prefix,
            )
        else:
            log.warning("BOT_TOKEN is not set: notifications stay in the outbox")

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await ctx["services"].events.close()
        await ctx["services"].payouts.close()
        if "bot" in ctx:
            await ctx["bot"].session.close()

    worker = HeartbeatWorker(
        functions=worker_functions(),
        cron_jobs=cron_jobs(settings.redis_prefix),
        queue_name=queue_name(settings.redis_prefix),
        redis_settings=RedisSettings.from_dsn(infra.redis_url),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        burst=burst,
        handle_signals=False,
        max_jobs=MAX_JOBS,
        # No results are read, and a kept one (arq's default: an hour, also for a job that
        # ran out of tries) would refuse a new job with the same id for as long.
        keep_result=0,
        # A job that was running when a worker died is retried (jobs are idempotent).
        max_tries=5,
    )
    # arq keeps its own ctx dict (an empty one passed in would be replaced): set it on that.
    worker.ctx["in_progress_ttl_ms"] = int(worker.in_progress_timeout_s * 1000)
    return worker


def serve_metrics(settings: Settings) -> None:
    """The worker's own metrics (its jobs run here, not in the web process): a busy port is
    logged and the worker runs on without them rather than not at all."""
    if not settings.worker_metrics_port:
        return
    from prometheus_client import start_http_server

    try:
        start_http_server(settings.worker_metrics_port, addr=settings.web_host)
    except OSError as exc:
        log.warning("worker metrics not served on %s:%s: %s", settings.web_host,
                    settings.worker_metrics_port, exc)


def run_worker(settings: Settings) -> None:
    async def main() -> None:
        serve_metrics(settings)
        infra = await open_infrastructure(settings, pool_max=WORKER_POOL_MAX)
        stop = asyncio.create_task(wait_for_signal())
        try:
            await supervise_worker(lambda: build_worker(settings, infra), infra.redis, stop)
        finally:
            stop.cancel()
            await infra.close()

    asyncio.run(main())
