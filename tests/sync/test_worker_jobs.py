"""The worker's jobs end to end in a real burst arq Worker: "sync now" brings the exchange's
records, verifies the UID, books the rebates; the ledger check passes on the result."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from arq import create_pool
from arq.connections import RedisSettings
from redis.asyncio import Redis

from bot.app import Infrastructure
from bot.settings import load_settings
from bot.worker import build_worker, check_ledger
from sandbox.exchanges import Dataset, Faults, create_app
from services.jobs import enqueue_sync_now
from services.models import (
    AccountStatus,
    CommissionRecord,
    ExchangeAccount,
    Notification,
    SyncRun,
    User,
)
from services.models.rates import RebateAccrual
from tests.conftest import TEST_REDIS_URL

END_DAY = datetime.now(UTC).date() - timedelta(days=1)


@pytest.fixture
async def sim_url() -> AsyncIterator[tuple[Dataset, str]]:
    dataset = Dataset.build(["okx"], traders=3, days=4, seed=21, end_day=END_DAY)
    server = TestServer(create_app(dataset, Faults()), host="127.0.0.1", port=0)
    await server.start_server()
    yield dataset, str(server.make_url("")).rstrip("/")
    await server.close()


# arq 0.28's Worker.close calls redis-py's deprecated close().
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_sync_now_books_rebates(
    db: str, sim_url: tuple[Dataset, str], redis: Redis, redis_prefix: str, tmp_path: Path
) -> None:
    dataset, url = sim_url
    uid = next(t.uid for t in dataset.traders["okx"]
               if any(a.uid == t.uid for a in dataset.activity["okx"]))
    await User.create(id=660_001, first_name="T")
    await ExchangeAccount.create(user_id=660_001, exchange_id="okx", uid=uid)  # pending

    settings = load_settings({
        "SECRET_KEY": "k", "DATA_DIR": str(tmp_path), "REDIS_PREFIX": redis_prefix,
        "SYNC_FIRST_LOOKBACK_DAYS": "3",  # ccxt keeps to OKX's rate limit: fewer days, faster
        "EXCHANGE_OKX_API_URL": f"{url}/okx", "EXCHANGE_OKX_API_KEY": dataset.api_key,
        "EXCHANGE_OKX_API_SECRET": "s", "EXCHANGE_OKX_API_PASSWORD": "p",
    })
    arq = await create_pool(RedisSettings.from_dsn(TEST_REDIS_URL))
    try:
        assert await enqueue_sync_now(arq, redis_prefix, "okx")
        worker = build_worker(settings, Infrastructure(db, TEST_REDIS_URL, redis), burst=True)
        worker.cron_jobs = []  # only the queued job
        try:
            await worker.async_run()
        finally:
            await worker.close()
        # The job id is free again once the run finished: the next "sync now" is accepted.
        assert await enqueue_sync_now(arq, redis_prefix, "okx")
    finally:
        await arq.delete(f"{redis_prefix}:queue")
        async for key in arq.scan_iter(match=f"arq:job:{redis_prefix}:*"):
            await arq.delete(key)
        await arq.aclose()

    run = await SyncRun.get(exchange_id="okx")
    assert run.status == "ok" and run.trigger == "manual"
    account = await ExchangeAccount.get(uid=uid)
    assert account.status == AccountStatus.VERIFIED
    records = await CommissionRecord.filter(exchange_id="okx", uid=uid).count()
    assert records > 0
    assert await RebateAccrual.filter(user_id=660_001).count() == records
    kinds = {n.kind for n in await Notification.filter(user_id=660_001)}
    assert kinds == {"uid_verified", "first_trade"}

    result = await check_ledger({"services": worker.ctx["services"], "settings": settings})
    assert result == "ok"
