"""The exchange sync: exchange reports → commission records, verified UIDs, sync status.

One run of one exchange reads from its watermark minus the exchange's re-read window (so missed
ticks are caught up and late revisions are seen), stores the rows idempotently
(services.commission_store), records the run, moves the watermark, then verifies pending UIDs
and detects first trades. A deep re-read (trigger "deep", weekly by default) reads the last
35 days again for the corrections that arrive later than the re-read window (monthly
settlements, clawbacks); the upsert stores only what changed, so booking books only differences.
Two runs of the same exchange never overlap: a PostgreSQL advisory lock, held on its own
connection for the length of the run, is released by the database if the worker dies.

Errors are mapped at the adapter boundary (exchanges.errors); a failed run keeps its error class
and message, writes no rows, and does not move the watermark. A run whose worker died (SIGKILL,
OOM, a lost host) stays "running" in sync_runs until the next run of that exchange, or the
worker's tick, finds the exchange's lock free and closes it as "interrupted".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

import asyncpg
from prometheus_client import Counter, Gauge, Histogram
from tortoise import Tortoise
from tortoise.expressions import Q

from exchanges.base import AffiliateSource, CommissionRow
from exchanges.csv_import import CsvRowError, parse_csv
from exchanges.errors import AuthError, ExchangeError, PermanentError, RateLimited
from services.commission_store import UpsertCounts, upsert_rows
from services.events import EventService
from services.models import (
    AccountStatus,
    CommissionRecord,
    Exchange,
    ExchangeAccount,
    Platform,
    RecordOrigin,
    SyncRun,
    SyncRunStatus,
    SyncState,
)
from services.notifications import NotificationService

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
DEFAULT_REREAD_DAYS = 3
REREAD_DAYS = {"bybit": 2, "bitget": 3, "mexc": 3}
INTERRUPTED = "interrupted"  # error_class of a run whose worker died


class ExchangeStatus(StrEnum):
    """Seed 000 §3: OK < 2× the interval since the last good sync; Lag < 3×; else Error."""

    OK = "ok"
    LAG = "lag"
    ERROR = "error"
    DISABLED = "disabled"


@dataclass(frozen=True)
class SyncOutcome:
    exchange_id: str
    status: str  # ok | failed | skipped
    run_id: int | None = None
    records_seen: int = 0
    records_new: int = 0
    records_changed: int = 0
    verified: int = 0
    rejected: int = 0
    error_class: str | None = None
    error: str | None = None
    window_start: datetime | None = None
    verified_uids: tuple[str, ...] = ()  # their whole history is new to the rebate engine


@dataclass(frozen=True)
class ExchangeStatusDTO:
    exchange_id: str
    name: str
    status: ExchangeStatus
    last_success_at: datetime | None
    next_due_at: datetime | None
    last_error: str | None
    data_source: str = "api"
    last_deep_read_at: datetime | None = None
    reread_days: int = DEFAULT_REREAD_DAYS


@dataclass(frozen=True)
class CsvImportOutcome:
    exchange_id: str
    dry_run: bool
    rows: int
    errors: list[CsvRowError]
    new: int = 0
    changed: int = 0

    @property
    def unchanged(self) -> int:
        return self.rows - self.new - self.changed


def _refused(exchange_id: str, dry_run: bool, rows: int, error: Exception) -> CsvImportOutcome:
    """The outcome of a file the database refused (a value the parser let through)."""
    log.error("CSV import of %s refused by the database: %s", exchange_id, error)
    return CsvImportOutcome(exchange_id, dry_run, rows,
                            [CsvRowError(1, "rejected_by_database", str(error)[:200])])


def error_class(error: Exception) -> str:
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, AuthError):
        return "auth"
    if isinstance(error, PermanentError):
        return "permanent"
    return "temporary"


def sync_lock_key(exchange_id: str) -> str:
    return f"sync:{exchange_id}"


def exchange_status(
    *, enabled: bool, interval: timedelta, last_run_failed: bool | None,
    last_success_at: datetime | None, now: datetime,
) -> ExchangeStatus:
    if not enabled:
        return ExchangeStatus.DISABLED
    if last_run_failed or last_success_at is None:
        return ExchangeStatus.ERROR
    age = now - last_success_at
    if age < 2 * interval:
        return ExchangeStatus.OK
    if age < 3 * interval:
        return ExchangeStatus.LAG
    return ExchangeStatus.ERROR


class SyncService:
    UID_CHECKS_PER_RUN = 200  # one-by-one UID checks are rate limited at the exchange

    def __init__(
        self, sources: SourceFactory, notifications: NotificationService, events: EventService,
        *, uid_reject_after: timedelta = timedelta(hours=72),
        first_lookback: timedelta = timedelta(days=30),
        reread_days: Mapping[str, int] | None = None,
        deep_reread: timedelta = timedelta(days=35),
        deep_reread_every: timedelta = timedelta(days=7),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._first_lookback = first_lookback
        self._reread_days = {**REREAD_DAYS, **(reread_days or {})}
        self._deep_reread = deep_reread
        self._deep_reread_every = deep_reread_every
        self._sources = sources
        self._notifications = notifications
        self._events = events
        self._uid_reject_after = uid_reject_after
        self._now = clock

    def reread_window(self, exchange_id: str) -> timedelta:
        return timedelta(days=self._reread_days.get(exchange_id, DEFAULT_REREAD_DAYS))

    # --- scheduling ---------------------------------------------------------------------

    async def due(self) -> list[str]:
        """Enabled API exchanges whose interval has passed since their last attempt."""
        now = self._now()
        states = {s.exchange_id: s for s in await SyncState.all()}
        due = []
        for exchange in await Exchange.filter(enabled=True, data_source="api"):
            state = states.get(exchange.id)
            if state is None or state.next_due_at is None or state.next_due_at <= now:
                due.append(exchange.id)
        return due

    async def deep_read_due(self) -> list[str]:
        """Enabled API exchanges synced before whose last deep re-read is older than the deep
        re-read interval (or that never had one)."""
        since = self._now() - self._deep_reread_every
        synced = {s.exchange_id for s in await SyncState.filter(watermark__not_isnull=True)}
        recent = {row["exchange_id"] for row in await SyncRun.filter(
            trigger="deep", status=SyncRunStatus.OK, finished_at__gte=since,
        ).values("exchange_id")}
        return [exchange.id for exchange in await Exchange.filter(enabled=True, data_source="api")
                if exchange.id in synced and exchange.id not in recent]

    async def close_interrupted_runs(self, exchange_id: str | None = None) -> int:
        """Close the runs left "running" by a worker that died. The exchange's advisory lock
        tells: a live run holds it for its whole length, and the database drops it with the
        dead worker's connection."""
        query = SyncRun.filter(status=SyncRunStatus.RUNNING)
        if exchange_id is not None:
            query = query.filter(exchange_id=exchange_id)
        exchange_ids = {row["exchange_id"] for row in await query.values("exchange_id")}
        closed = 0
        client = Tortoise.get_connection("default")
        for exchange in sorted(exchange_ids):
            async with client.acquire_connection() as connection:
                key = sync_lock_key(exchange)
                if not await connection.fetchval("SELECT pg_try_advisory_lock(hashtext($1))",
                                                 key):
                    continue  # a live run holds it
                try:
                    closed += await self._close_interrupted(exchange)
                finally:
                    await connection.execute("SELECT pg_advisory_unlock(hashtext($1))", key)
        return closed

    async def is_idle(self, exchange_id: str) -> bool:
        """No run of this exchange is going on anywhere (nobody holds its lock)."""
        client = Tortoise.get_connection("default")
        async with client.acquire_connection() as connection:
            key = sync_lock_key(exchange_id)
            if not await connection.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
                return False
            await connection.execute("SELECT pg_advisory_unlock(hashtext($1))", key)
            return True

    async def _close_interrupted(self, exchange_id: str) -> int:
        """Under the exchange's lock: every run still "running" belongs to a dead worker."""
        closed = await SyncRun.filter(exchange_id=exchange_id,
                                      status=SyncRunStatus.RUNNING).update(
            status=SyncRunStatus.FAILED, error_class=INTERRUPTED, finished_at=self._now(),
            error="the worker stopped during this run (killed or restarted); nothing of it "
                  "was stored, the next run reads its window again",
        )
        if closed:
            log.warning("sync %s: closed %d run(s) left running by a dead worker",
                        exchange_id, closed)
        return closed

    async def statuses(self) -> list[ExchangeStatusDTO]:
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
                    now=now,
                ),
                last_success_at=state.last_success_at if state else None,
                next_due_at=state.next_due_at if state else None,
                last_error=last_run.error if last_run and last_run.error else None,
                data_source=exchange.data_source,
                last_deep_read_at=deep.finished_at if deep else None,
                reread_days=self.reread_window(exchange.id).days,
            ))
        return result

    # --- one run ------------------------------------------------------------------------

    async def run(self, exchange_id: str, trigger: str = "cron") -> SyncOutcome:
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
                await self._close_interrupted(exchange_id)
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
            counts = await self._store(rows, RecordOrigin.API, run, state, now, exchange)
            verified_uids, rejected = await self._verify_uids(exchange, source)
        except ExchangeError as exc:
            return await self._fail(run, state, exchange, exc, now)
        finally:
            if source is not None:
                await source.close()
            SYNC_SECONDS.labels(exchange.id).observe(time.perf_counter() - started)
        await self._detect_first_trades(exchange)
        SYNC_TOTAL.labels(exchange.id, "ok").inc()
        LAST_SYNC.labels(exchange.id).set(now.timestamp())
        VOLUME_USD.labels(exchange.id).inc(float(counts.new_volume_usdt))
        log.info("sync %s: %d rows, %d new, %d changed, %d verified, %d rejected",
                 exchange.id, counts.seen, counts.new, counts.changed, len(verified_uids),
                 rejected)
        return SyncOutcome(exchange.id, "ok", run.id, counts.seen, counts.new, counts.changed,
                           len(verified_uids), rejected, window_start=start,
                           verified_uids=tuple(verified_uids))

    async def _store(
        self, rows: Sequence[CommissionRow], origin: RecordOrigin, run: SyncRun,
        state: SyncState, now: datetime, exchange: Exchange,
    ) -> UpsertCounts:
        """Rows, the run's counts and the new watermark in one transaction: all or nothing."""
        client = Tortoise.get_connection("default")
        async with client.acquire_connection() as connection, connection.transaction():
            counts = await upsert_rows(rows, origin, connection=connection)
            await connection.execute(
                "UPDATE sync_runs SET status = 'ok', records_seen = $2, records_new = $3, "
                "records_changed = $4, finished_at = $5 WHERE id = $1",
                run.id, counts.seen, counts.new, counts.changed, now,
            )
            if origin is RecordOrigin.API:
                await connection.execute(
                    "UPDATE sync_state SET watermark = $2, last_success_at = $2, "
                    "last_attempt_at = $2, next_due_at = $3 WHERE exchange_id = $1",
                    exchange.id, now, now + timedelta(minutes=exchange.sync_interval_minutes),
                )
        return counts

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

    # --- UIDs ---------------------------------------------------------------------------

    async def _verify_uids(
        self, exchange: Exchange, source: AffiliateSource | None
    ) -> tuple[list[str], int]:
        """Pending UIDs found among our invitees (or in the commission records) become
        verified; those not found within uid_reject_after become rejected."""
        pending = await ExchangeAccount.filter(exchange_id=exchange.id,
                                               status=AccountStatus.PENDING)
        if not pending:
            return [], 0
        uids = {account.uid for account in pending}
        found: set[str] = {
            str(row["uid"]) for row in await CommissionRecord.filter(
                exchange_id=exchange.id, uid__in=uids).distinct().values("uid")
        }
        if source is not None and uids - found:
            if source.capabilities.uid_check:
                for uid in sorted(uids - found)[: self.UID_CHECKS_PER_RUN]:
                    if await source.check_uid(uid) is not None:
                        found.add(uid)
            else:
                found |= {invitee.uid for invitee in await source.list_invitees()} & uids
        now = self._now()
        verified: list[str] = []
        rejected = 0
        for account in pending:
            if account.uid in found:
                if await self._resolve(account, exchange, AccountStatus.VERIFIED, now):
                    verified.append(account.uid)
            elif now - account.created_at >= self._uid_reject_after:
                rejected += await self._resolve(account, exchange, AccountStatus.REJECTED, now,
                                                reason="not_found")
        return verified, rejected

    async def _resolve(self, account: ExchangeAccount, exchange: Exchange,
                       status: AccountStatus, now: datetime, reason: str | None = None) -> int:
        # Conditional: only a still-pending account changes (two runs cannot both notify).
        changed = await ExchangeAccount.filter(id=account.id, status=AccountStatus.PENDING).update(
            status=status, reject_reason=reason,
            verified_at=now if status is AccountStatus.VERIFIED else None,
        )
        if not changed:
            return 0
        user_id: int = account.user_id  # type: ignore[attr-defined]
        kind = "uid_verified" if status is AccountStatus.VERIFIED else "uid_rejected"
        params: dict[str, object] = {"exchange": exchange.name, "uid": account.uid}
        if reason:
            params["reason"] = reason
        await self._notifications.enqueue(
            f"{kind}:{account.id}", user_id, kind, f"notify.{kind}", params, user_id=user_id
        )
        await self._events.record(kind, user_id, Platform.SYSTEM, exchange=exchange.id)
        return 1

    async def _detect_first_trades(self, exchange: Exchange) -> int:
        """The first day with activity of each verified UID that had none yet."""
        accounts = await ExchangeAccount.filter(
            exchange_id=exchange.id, status=AccountStatus.VERIFIED, first_trade_at=None
        )
        detected = 0
        for account in accounts:
            first = await CommissionRecord.filter(
                Q(volume__gt=0) | Q(commission__gt=0), exchange_id=exchange.id, uid=account.uid,
            ).order_by("day").first()
            if first is None:
                continue
            first_day: date = first.day
            at = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
            if not await ExchangeAccount.filter(id=account.id, first_trade_at=None).update(
                first_trade_at=at
            ):
                continue
            user_id: int = account.user_id  # type: ignore[attr-defined]
            await self._notifications.enqueue(
                f"first_trade:{account.id}", user_id, "first_trade", "notify.first_trade",
                {"exchange": exchange.name, "uid": account.uid}, user_id=user_id,
            )
            await self._events.record("first_trade", user_id, Platform.SYSTEM,
                                      exchange=exchange.id)
            detected += 1
        return detected

    # --- CSV ----------------------------------------------------------------------------

    async def import_csv(
        self, exchange_id: str, text: str, fmt: str = "generic", *, dry_run: bool,
        actor_id: int | None = None,
    ) -> CsvImportOutcome:
        """Import an affiliate-portal export. A file with any bad row imports nothing; a dry
        run reports what would change (the same upsert, rolled back)."""
        exchange = await Exchange.get_or_none(id=exchange_id)
        if exchange is None:
            raise ValueError(f"unknown exchange {exchange_id!r}")
        now = self._now()
        parsed = parse_csv(text, fmt=fmt, exchange=exchange_id,  # type: ignore[arg-type]
                           today=now.astimezone(UTC).date())
        if parsed.errors:
            return CsvImportOutcome(exchange_id, dry_run, len(parsed.rows), parsed.errors)
        client = Tortoise.get_connection("default")
        if dry_run:
            try:
                async with client.acquire_connection() as connection:
                    transaction = connection.transaction()
                    await transaction.start()
                    try:
                        counts = await upsert_rows(parsed.rows, RecordOrigin.CSV,
                                                   connection=connection)
                    finally:
                        await transaction.rollback()
            except asyncpg.DataError as exc:  # the parser's bounds should make this unreachable
                return _refused(exchange_id, True, len(parsed.rows), exc)
            return CsvImportOutcome(exchange_id, True, len(parsed.rows), [], counts.new,
                                    counts.changed)
        state, _ = await SyncState.get_or_create(exchange_id=exchange_id)
        run = await SyncRun.create(exchange_id=exchange_id, trigger="csv")
        try:
            counts = await self._store(parsed.rows, RecordOrigin.CSV, run, state, now, exchange)
        except asyncpg.DataError as exc:  # as above; the run must not stay "running"
            run.status = SyncRunStatus.FAILED
            run.error_class = "bad_csv"
            run.error = str(exc)[:2000]
            run.finished_at = self._now()
            await run.save()
            return _refused(exchange_id, False, len(parsed.rows), exc)
        if exchange.data_source == "csv":
            # For a CSV-only exchange the import is its sync.
            await SyncState.filter(exchange_id=exchange_id).update(
                last_success_at=now, last_attempt_at=now,
                next_due_at=now + timedelta(minutes=exchange.sync_interval_minutes),
            )
        await self._verify_uids(exchange, None)
        await self._detect_first_trades(exchange)
        await self._events.record("csv_imported", actor_id, Platform.BOT, exchange=exchange_id,
                                  rows=len(parsed.rows), new=counts.new, changed=counts.changed)
        return CsvImportOutcome(exchange_id, False, len(parsed.rows), [], counts.new,
                                counts.changed)
