"""After a crash and for late corrections: runs left "running" by a dead worker are closed,
orphaned sync jobs are freed at once, each exchange re-reads its own window, the weekly deep
re-read reads 35 days and books only differences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis
from tortoise import Tortoise

from bot.settings import load_settings
from bot.worker import ORPHAN_AFTER, recover_orphaned_syncs
from services.events import EventService
from services.jobs import sync_job_id
from services.models import CommissionRecord, SyncRun, SyncRunStatus, SyncState
from services.notifications import NotificationService
from services.sync import INTERRUPTED, SyncService, sync_lock_key
from tests.sync.test_sync import Sim, sources_for


async def hold_lock(exchange_id: str) -> Any:
    """A live run elsewhere: its connection holds the exchange's advisory lock."""
    client = Tortoise.get_connection("default")
    connection = await client._pool.acquire()  # type: ignore[attr-defined]
    assert await connection.fetchval("SELECT pg_try_advisory_lock(hashtext($1))",
                                     sync_lock_key(exchange_id))
    return connection


async def release(connection: Any) -> None:
    await connection.execute("SELECT pg_advisory_unlock_all()")
    await Tortoise.get_connection("default")._pool.release(connection)  # type: ignore[attr-defined]


async def test_a_run_of_a_dead_worker_is_closed_and_a_live_one_is_not(
    sync: SyncService,
) -> None:
    dead = await SyncRun.create(exchange_id="okx", trigger="cron")
    alive = await SyncRun.create(exchange_id="bybit", trigger="cron")
    connection = await hold_lock("bybit")
    try:
        assert await sync.close_interrupted_runs() == 1
    finally:
        await release(connection)
    dead_row, alive_row = await SyncRun.get(id=dead.id), await SyncRun.get(id=alive.id)
    assert dead_row.status == SyncRunStatus.FAILED and dead_row.error_class == INTERRUPTED
    assert "worker stopped" in (dead_row.error or "")
    assert alive_row.status == SyncRunStatus.RUNNING
    # /status tells the operator why okx is red.
    statuses = {s.exchange_id: s for s in await sync.statuses()}
    assert "worker stopped" in (statuses["okx"].last_error or "")
    # The next run of bybit closes its own leftover before it starts.
    outcome = await sync.run("bybit")
    assert outcome.status == "ok"
    assert (await SyncRun.get(id=alive.id)).error_class == INTERRUPTED


async def test_each_exchange_rereads_its_own_window(db: str, sim: Sim) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    sync = SyncService(sources_for(sim), NotificationService(), EventService(),
                       reread_days={"okx": 9}, clock=lambda: now)
    await SyncState.create(exchange_id="okx", watermark=now - timedelta(hours=1))
    await SyncState.create(exchange_id="bybit", watermark=now - timedelta(hours=1))
    okx, bybit = await sync.run("okx"), await sync.run("bybit")
    assert okx.window_start == now - timedelta(hours=1, days=9)
    assert bybit.window_start == now - timedelta(hours=1, days=2)  # Bybit's documented T+1
    assert sync.reread_window("mexc") == timedelta(days=3)


def test_reread_days_come_from_the_settings(tmp_path: Any) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path), "EXCHANGE_OKX_REREAD_DAYS": "5"})
    assert settings.reread_days == {"okx": 5}
    try:
        load_settings({"DATA_DIR": str(tmp_path), "EXCHANGE_OKX_REREAD_DAYS": "0"})
    except Exception as exc:  # noqa: BLE001
        assert "EXCHANGE_OKX_REREAD_DAYS" in str(exc)
    else:
        raise AssertionError("0 days was accepted")


async def test_the_deep_reread_reads_35_days_and_books_only_differences(
    db: str, sim: Sim,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    sync = SyncService(sources_for(sim), NotificationService(), EventService(),
                       first_lookback=timedelta(days=3), clock=lambda: now)
    assert await sync.deep_read_due() == []  # never synced: nothing to read again
    first = await sync.run("okx")
    assert first.status == "ok"
    assert await sync.deep_read_due() == ["okx"]
    # A correction arrives for a day older than the re-read window.
    old_day = sim.dataset.first_day
    corrected = [a for a in sim.dataset.activity["okx"] if a.day == old_day][0]
    index = sim.dataset.activity["okx"].index(corrected)
    sim.dataset.activity["okx"][index] = type(corrected)(
        corrected.uid, corrected.day, corrected.product, corrected.volume, corrected.fee,
        corrected.commission - Decimal("0.5"))
    regular = await sync.run("okx")
    assert regular.records_changed == 0  # the day lies before the regular window
    deep = await sync.run("okx", "deep")
    assert deep.window_start == now - timedelta(days=35)
    assert deep.records_changed == 1 and deep.records_new == 0
    record = await CommissionRecord.get(source_key__startswith=f"okx:{corrected.uid}:"
                                        f"{old_day.isoformat()}:{corrected.product}")
    assert record.revision == 2
    assert await sync.deep_read_due() == []
    status = {s.exchange_id: s for s in await sync.statuses()}["okx"]
    assert status.last_deep_read_at == now


async def test_an_orphaned_sync_job_is_freed_and_a_live_one_is_not(
    db: str, sync: SyncService, redis: Redis, redis_prefix: str,
) -> None:
    ttl_ms = 910_000
    ctx = {"redis": redis, "services": type("S", (), {"sync": sync})(),
           "in_progress_ttl_ms": ttl_ms,
           "settings": type("Settings", (), {"redis_prefix": redis_prefix})()}
    old = ttl_ms - int(ORPHAN_AFTER.total_seconds() * 1000) - 5_000  # started 25 s ago
    keys = {ex: in_progress_key_prefix + sync_job_id(redis_prefix, ex)
            for ex in ("okx", "bybit", "mexc")}
    await redis.psetex(keys["okx"], old, b"1")  # its worker died
    await redis.psetex(keys["bybit"], old, b"1")  # alive: holds the lock
    await redis.psetex(keys["mexc"], ttl_ms - 1_000, b"1")  # just started
    connection = await hold_lock("bybit")
    try:
        assert await recover_orphaned_syncs(ctx) == ["okx"]
    finally:
        await release(connection)
        survivors = [ex for ex, key in keys.items() if await redis.exists(key)]
        for key in keys.values():
            await redis.delete(key)
    assert sorted(survivors) == ["bybit", "mexc"]


async def test_the_sync_tick_runs_on_a_real_workers_context(
    db: str, redis: Redis, redis_prefix: str, tmp_path: Any,
) -> None:
    """arq keeps its own ctx: what build_worker puts there must be in the one jobs get."""
    from arq import create_pool
    from arq.connections import RedisSettings

    from bot.app import Infrastructure
    from bot.worker import build_worker, sync_tick
    from tests.conftest import TEST_REDIS_URL

    settings = load_settings({"SECRET_KEY": "k", "DATA_DIR": str(tmp_path),
                              "REDIS_PREFIX": redis_prefix, "EXCHANGE_OKX_API_KEY": "k",
                              "EXCHANGE_OKX_API_SECRET": "s", "EXCHANGE_OKX_API_PASSWORD": "p"})
    worker = build_worker(settings, Infrastructure(db, TEST_REDIS_URL, redis), burst=True)
    pool = await create_pool(RedisSettings.from_dsn(TEST_REDIS_URL))
    assert worker.on_startup is not None and worker.on_shutdown is not None
    await worker.on_startup(worker.ctx)
    try:
        worker.ctx["redis"] = pool
        due = await sync_tick(worker.ctx)
        assert "okx" in due  # never synced: due, and queued
        assert "bybit" not in due  # no API key: not configured, not retried every tick
        queued = await pool.queued_jobs(queue_name=f"{redis_prefix}:queue")
        assert ("sync_exchange", ("okx", "cron")) in {(j.function, j.args) for j in queued}
    finally:
        await worker.on_shutdown(worker.ctx)
        await pool.delete(f"{redis_prefix}:queue")
        async for key in pool.scan_iter(match=f"arq:job:{redis_prefix}:*"):
            await pool.delete(key)
        await pool.aclose()


async def test_a_live_job_is_not_idle_and_a_live_csv_import_is_not_closed(
    sync: SyncService,
) -> None:
    async with sync.job("okx") as ours:
        assert ours
        assert not await sync.is_idle("okx")
        async with sync.job("okx") as again:
            assert not again  # another job of the same exchange is refused
    assert await sync.is_idle("okx")
    importing = await SyncRun.create(exchange_id="okx", trigger="csv")
    assert await sync.close_interrupted_runs() == 0
    assert (await SyncRun.get(id=importing.id)).status == SyncRunStatus.RUNNING
    await SyncRun.filter(id=importing.id).update(
        started_at=datetime.now(UTC) - timedelta(hours=2))
    assert await sync.close_interrupted_runs() == 1


async def test_uids_shown_by_stored_records_are_verified_without_a_run(
    sync: SyncService,
) -> None:
    """A worker killed after a run stored its rows and before it verified: the records show the
    UID, so it is verified from them; a UID they do not show is left pending (never rejected
    without the exchange's own answer)."""
    from services.models import AccountStatus, ExchangeAccount, User
    from tests.ledger.helpers import put_record

    await User.create(id=990_001, first_name="a")
    await User.create(id=990_002, first_name="b")
    shown = await ExchangeAccount.create(user_id=990_001, exchange_id="okx", uid="123456789")
    unseen = await ExchangeAccount.create(user_id=990_002, exchange_id="okx", uid="987654321")
    await ExchangeAccount.filter(id=unseen.id).update(
        created_at=datetime.now(UTC) - timedelta(days=30))
    await put_record("okx", "123456789", datetime.now(UTC).date(), commission=Decimal("1"))
    assert await sync.verify_from_records() == 1
    assert (await ExchangeAccount.get(id=shown.id)).status == AccountStatus.VERIFIED
    assert (await ExchangeAccount.get(id=unseen.id)).status == AccountStatus.PENDING
