"""SyncService: when each exchange is due, one run of one exchange, and the status of all."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter, Gauge, Histogram
from tortoise import Tortoise

from exchanges.base import AffiliateSource
from exchanges.errors import AuthError, ExchangeError
from services.credential_store import CredentialBook
from services.events import EventService
from services.models import (
    AccountStatus,
    Exchange,
    ExchangeAccount,
    RecordOrigin,
    SyncRun,
    SyncRunStatus,
    SyncState,
)
from services.notifications import NotificationService
from services.sync.csv_imports import CsvImports, Progress
from services.sync.locks import RunLocks, job_lock_key, sync_lock_key
from services.sync.outcomes import (
    CsvImportOutcome,
    PendingPlan,
    SyncOutcome,
    UidLookup,
    error_class,
)
from services.sync.status import (
    DEFAULT_REREAD_DAYS,
    ExchangeStatusDTO,
    exchange_status,
)
from services.sync.store import store_rows
from services.sync.uids import UidChecks

log = logging.getLogger(__name__)

SYNC_TOTAL = Counter("exchange_sync_total", "Exchange sync attempts", ["exchange", "status"])
SYNC_SECONDS = Histogram("exchange_sync_duration_seconds", "Exchange sync duration", ["exchange"])
LAST_SYNC = Gauge("exchange_last_sync_timestamp", "Last successful sync (unix time)",
                  ["exchange"])
VOLUME_USD = Counter("trading_volume_usd_total", "Traded volume of newly seen records (USD)",
                     ["exchange"])

SourceFactory = Callable[[str], AffiliateSource | None]

# How many days before its watermark each exchange's sync reads again, from what each one
# documents about when its figures are final. Bybit: aff-user-list volumes are T+1. Bitget and
# MEXC: T+1 in UTC+8, so a UTC day is final two UTC dates later. The others document no
# settlement time: the same three days. Anything later (monthly settlements, wash-trading
# clawbacks) is caught by the deep re-read. EXCHANGE_<ID>_REREAD_DAYS overrides one exchange.
REREAD_DAYS = {"bybit": 2, "bitget": 3, "mexc": 3}
# The worker looks for due syncs every 15 s (bot/worker.py's sync_tick); a due sync starts
# within this.
SYNC_TICK = timedelta(minutes=1)


class SyncService:
    def __init__(
        self, sources: SourceFactory, notifications: NotificationService, events: EventService,
        *, uid_reject_after: timedelta = timedelta(hours=72),
        first_lookback: timedelta = timedelta(days=30),
        reread_days: Mapping[str, int] | None = None,
        deep_reread: timedelta = timedelta(days=35),
        deep_reread_every: timedelta = timedelta(days=7),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        credentials: CredentialBook | None = None,
    ):
        self._credentials = credentials
        self._credentials_seen = -1
        self._first_lookback = first_lookback
        self._reread_days = {**REREAD_DAYS, **(reread_days or {})}
        self._deep_reread = deep_reread
        self._deep_reread_every = deep_reread_every
        self._sources = sources
        self._configured: dict[str, bool] = {}
        self._now = clock
        self._locks = RunLocks(clock)
        self._uids = UidChecks(notifications, events, uid_reject_after=uid_reject_after,
                               clock=clock)
        self._csv = CsvImports(self._uids, events, clock)

    async def _fresh_credentials(self) -> None:
        """Credentials set in the admin screens since (services/credential_store.py): ask
        the factory again, so a new key is used by the next run without a restart."""
        if self._credentials is None:
            return
        await self._credentials.refresh()
        # By generation, not refresh's answer: another reader may have refreshed it first.
        if self._credentials.generation != self._credentials_seen:
            self._credentials_seen = self._credentials.generation
            self._configured.clear()

    def is_configured(self, exchange_id: str) -> bool:
        """Whether the exchange has API credentials (an adapter can be built). Asked once per
        exchange until the stored credentials change (``_fresh_credentials``)."""
        if exchange_id not in self._configured:
            try:
                self._configured[exchange_id] = self._sources(exchange_id) is not None
            except ValueError:  # no adapter at all: a CSV-only exchange
                self._configured[exchange_id] = False
        return self._configured[exchange_id]

    def reread_window(self, exchange_id: str) -> timedelta:
        return timedelta(days=self._reread_days.get(exchange_id, DEFAULT_REREAD_DAYS))

    # --- scheduling ---------------------------------------------------------------------

    async def due(self) -> list[str]:
        """Enabled, configured API exchanges whose interval has passed since their last
        attempt (one without credentials is not retried every tick: /status says why)."""
        await self._fresh_credentials()
        now = self._now()
        states = {s.exchange_id: s for s in await SyncState.all()}
        due = []
        for exchange in await Exchange.filter(enabled=True, data_source="api"):
            if not self.is_configured(exchange.id):
                continue
            state = states.get(exchange.id)
            if state is None or state.next_due_at is None or state.next_due_at <= now:
                due.append(exchange.id)
        return due

    async def deep_read_due(self) -> list[str]:
        """Enabled API exchanges synced before whose last deep re-read is older than the deep
        re-read interval (or that never had one)."""
        await self._fresh_credentials()
        since = self._now() - self._deep_reread_every
        synced = {s.exchange_id for s in await SyncState.filter(watermark__not_isnull=True)}
        recent = {row["exchange_id"] for row in await SyncRun.filter(
            trigger="deep", status=SyncRunStatus.OK, finished_at__gte=since,
        ).values("exchange_id")}
        return [exchange.id for exchange in await Exchange.filter(enabled=True, data_source="api")
                if exchange.id in synced and exchange.id not in recent
                and self.is_configured(exchange.id)]

    async def close_interrupted_runs(self, exchange_id: str | None = None) -> int:
        """Close the runs left "running" by a worker that died (services/sync/locks.py)."""
        return await self._locks.close_interrupted_runs(exchange_id)

    async def is_idle(self, exchange_id: str) -> bool:
        """No job and no run of this exchange is going on anywhere."""
        return await self._locks.is_idle(exchange_id)

    def job(self, exchange_id: str) -> AbstractAsyncContextManager[bool]:
        """Hold the exchange for a whole worker job (its sync and the booking after it), so
        that a job that is alive is never taken for one whose worker died; yields False when
        another job holds it."""
        return self._locks.holding(job_lock_key(exchange_id))

    async def statuses(self) -> list[ExchangeStatusDTO]:
        await self._fresh_credentials()
        now = self._now()
        states = {s.exchange_id: s for s in await SyncState.all()}
        result = []
        for exchange in await Exchange.all().order_by("position", "id"):
            state = states.get(exchange.id)
            last_run = await SyncRun.filter(exchange_id=exchange.id).exclude(
                status=SyncRunStatus.RUNNING).order_by("-id").first()
            deep = await SyncRun.filter(exchange_id=exchange.id, trigger="deep",
                                        status=SyncRunStatus.OK).order_by("-id").first()
            result.append(ExchangeStatusDTO(
                exchange_id=exchange.id,
                name=exchange.name,
                status=exchange_status(
                    enabled=exchange.enabled,
                    interval=timedelta(minutes=exchange.sync_interval_minutes),
                    last_run_failed=last_run is not None
                    and last_run.status == SyncRunStatus.FAILED,
                    last_success_at=state.last_success_at if state else None,
                    now=now, data_source=exchange.data_source,
                    configured=exchange.data_source != "api"
                    or self.is_configured(exchange.id),
                ),
                last_success_at=state.last_success_at if state else None,
                next_due_at=state.next_due_at if state else None,
                last_error=last_run.error if last_run and last_run.error else None,
                data_source=exchange.data_source,
                last_deep_read_at=deep.finished_at if deep else None,
                reread_days=self.reread_window(exchange.id).days,
            ))
        return result

    async def verify_from_records(self) -> int:
        """Verify the pending UIDs that stored records already show (no exchange call, and no
        rejection: that needs the exchange's own answer). A worker that died after a run
        stored its rows and before it verified leaves such UIDs until the next run is due."""
        verified = 0
        pending = {row["exchange_id"] for row in await ExchangeAccount.filter(
            status=AccountStatus.PENDING).values("exchange_id")}
        for exchange in await Exchange.filter(id__in=pending):
            uids, _ = await self._uids.verify(exchange, None, reject=False)
            verified += len(uids)
        return verified

    # --- one new UID --------------------------------------------------------------------

    @property
    def uid_reject_after(self) -> timedelta:
        """How long a linked UID may stay unfound before it is rejected."""
        return self._uids.reject_after

    async def pending_plan(self, exchange_id: str, linked_at: datetime) -> PendingPlan:
        """What happens next to a UID just linked on this exchange (for the trader). Asks
        whether the exchange is configured, which builds its adapter: for the worker."""
        await self._fresh_credentials()
        exchange = await Exchange.get_or_none(id=exchange_id)
        reject_at = linked_at + self._uids.reject_after
        if exchange is None or exchange.data_source != "api":
            return PendingPlan(False, "csv", None, reject_at)
        if not self.is_configured(exchange_id):
            return PendingPlan(False, "none", None, None)
        state = await SyncState.get_or_none(exchange_id=exchange_id)
        now = self._now()
        next_at = state.next_due_at if state is not None else None
        if next_at is None or next_at <= now:
            next_at = now + SYNC_TICK  # due already: the worker's next tick takes it
        return PendingPlan(True, "api", next_at, reject_at)

    async def check_new_uid(self, account_id: int) -> tuple[str, PendingPlan | None]:
        """Ask the exchange about one UID right after it was linked. Verified: the trader is
        told by the verification itself; otherwise the answer and the plan, for telling."""
        account = await ExchangeAccount.get_or_none(id=account_id)
        if account is None or account.status is not AccountStatus.PENDING:
            return UidLookup.NOT_PENDING, None
        exchange = await Exchange.get(id=account.exchange_id)  # type: ignore[attr-defined]
        plan = await self.pending_plan(exchange.id, account.created_at)
        source = self._sources(exchange.id) if plan.instant else None
        if source is None or not source.capabilities.uid_check:
            if source is not None:
                await source.close()
            plan = replace(plan, instant=False)
            await self._uids.tell_pending(account, exchange, UidLookup.NO_LOOKUP, plan)
            return UidLookup.NO_LOOKUP, plan
        try:
            verified = await self._uids.check_one(account, exchange, source)
            lookup = UidLookup.VERIFIED if verified else UidLookup.NOT_FOUND
        except ExchangeError as exc:
            log.warning("uid check %s: %s", exchange.id, exc)
            lookup = UidLookup.FAILED
        finally:
            await source.close()
        if lookup != UidLookup.VERIFIED:  # verified: the verification told the trader
            await self._uids.tell_pending(account, exchange, lookup, plan)
        return lookup, plan

    # --- one run ------------------------------------------------------------------------

    async def run(self, exchange_id: str, trigger: str = "cron") -> SyncOutcome:
        await self._fresh_credentials()
        exchange = await Exchange.get_or_none(id=exchange_id)
        if exchange is None or not exchange.enabled:
            return SyncOutcome(exchange_id, "skipped", error="disabled or unknown")
        client = Tortoise.get_connection("default")
        async with client.acquire_connection() as lock_connection:
            lock_key = sync_lock_key(exchange_id)
            if not await lock_connection.fetchval(
                "SELECT pg_try_advisory_lock(hashtext($1))", lock_key
            ):
                return SyncOutcome(exchange_id, "skipped", error="already running")
            try:
                await self._locks.close_interrupted(exchange_id)
                return await self._run_locked(exchange, trigger)
            finally:
                await lock_connection.execute("SELECT pg_advisory_unlock(hashtext($1))", lock_key)

    async def _run_locked(self, exchange: Exchange, trigger: str) -> SyncOutcome:
        now = self._now()
        state, _ = await SyncState.get_or_create(exchange_id=exchange.id)
        start = (state.watermark or now - self._first_lookback) - self.reread_window(exchange.id)
        if trigger == "deep":
            start = min(start, now - self._deep_reread)
        run = await SyncRun.create(exchange_id=exchange.id, trigger=trigger,
                                   window_start=start, window_end=now)
        started = time.perf_counter()
        source = self._sources(exchange.id)
        try:
            if source is None:
                raise AuthError(f"no API credentials configured for {exchange.id}")
            rows = await source.fetch_commissions(start, now)
            counts = await store_rows(rows, RecordOrigin.API, run, now, exchange)
            verified_uids, rejected = await self._uids.verify(exchange, source)
        except ExchangeError as exc:
            return await self._fail(run, state, exchange, exc, now)
        except Exception as exc:  # a bug or a database error: recorded, then raised
            await SyncRun.filter(id=run.id, status=SyncRunStatus.RUNNING).update(
                status=SyncRunStatus.FAILED, error_class="internal", finished_at=self._now(),
                error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        finally:
            if source is not None:
                await source.close()
            SYNC_SECONDS.labels(exchange.id).observe(time.perf_counter() - started)
        await self._uids.detect_first_trades(exchange)
        SYNC_TOTAL.labels(exchange.id, "ok").inc()
        LAST_SYNC.labels(exchange.id).set(now.timestamp())
        VOLUME_USD.labels(exchange.id).inc(float(counts.new_volume_usdt))
        log.info("sync %s: %d rows, %d new, %d changed, %d verified, %d rejected",
                 exchange.id, counts.seen, counts.new, counts.changed, len(verified_uids),
                 rejected)
        return SyncOutcome(exchange.id, "ok", run.id, counts.seen, counts.new, counts.changed,
                           len(verified_uids), rejected, window_start=start,
                           verified_uids=tuple(verified_uids))

    async def _fail(self, run: SyncRun, state: SyncState, exchange: Exchange,
                    error: ExchangeError, now: datetime) -> SyncOutcome:
        kind = error_class(error)
        message = str(error)[:2000]
        run.status = SyncRunStatus.FAILED
        run.error_class = kind
        run.error = message
        run.finished_at = self._now()
        await run.save()
        # Try again at the next tick for a passing fault, at the normal interval otherwise.
        retry_in = (timedelta(minutes=5) if kind in ("temporary", "rate_limited")
                    else timedelta(minutes=exchange.sync_interval_minutes))
        state.last_attempt_at = now
        state.next_due_at = now + retry_in
        await state.save()
        SYNC_TOTAL.labels(exchange.id, "failed").inc()
        log.warning("sync %s failed (%s): %s", exchange.id, kind, message)
        return SyncOutcome(exchange.id, "failed", run.id, error_class=kind, error=message)

    # --- CSV ----------------------------------------------------------------------------

    async def import_csv(
        self, exchange_id: str, text: str, fmt: str = "generic", *, dry_run: bool,
        actor_id: int | None = None, on_progress: Progress | None = None,
    ) -> CsvImportOutcome:
        """Import an affiliate-portal export (services/sync/csv_imports.py)."""
        return await self._csv.import_csv(exchange_id, text, fmt, dry_run=dry_run,
                                          actor_id=actor_id, on_progress=on_progress)
