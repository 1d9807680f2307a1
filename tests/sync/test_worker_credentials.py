"""The worker and API keys stored in the admin screens (issue 14), end to end: after a change
of SECRET_KEY (the old one in SECRET_KEY_PREVIOUS) the worker re-encrypts the stored key under
the new one when it starts, and its sync uses that key over the environment's wrong one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from arq import create_pool
from arq.connections import RedisSettings
from redis.asyncio import Redis
from tortoise import Tortoise

from bot.app import Infrastructure
from bot.settings import load_settings
from bot.worker import build_worker
from sandbox.exchanges import Dataset, Faults, create_app
from services.credential_store import CredentialBook
from services.credentials import ApiSecret, CredentialCipher
from services.jobs import enqueue_sync_now
from services.ledger.entries import ledger_transaction
from services.models import SyncRun, SyncRunStatus
from tests.conftest import TEST_REDIS_URL

END_DAY = datetime.now(UTC).date() - timedelta(days=1)
OLD, NEW = "the-master-key-before-rotation-0001", "the-master-key-after-rotation-00002"


@pytest.fixture
async def sim_url() -> AsyncIterator[tuple[Dataset, str]]:
    dataset = Dataset.build(["okx"], traders=3, days=3, seed=23, end_day=END_DAY)
    dataset.api_key = "stored-okx-key-for-the-worker"
    server = TestServer(create_app(dataset, Faults()), host="127.0.0.1", port=0)
    await server.start_server()
    yield dataset, str(server.make_url("")).rstrip("/")
    await server.close()


# arq 0.28's Worker.close calls redis-py's deprecated close().
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_the_worker_rotates_at_start_and_syncs_with_the_stored_key(
    db: str, sim_url: tuple[Dataset, str], redis: Redis, redis_prefix: str, tmp_path: Path
) -> None:
    dataset, url = sim_url
    async with ledger_transaction() as conn:  # stored while OLD was SECRET_KEY
        await CredentialBook(CredentialCipher(OLD.encode())).replace(
            conn, "okx", ApiSecret(dataset.api_key, "s", "p"), None, 900)
    settings = load_settings({
        "SECRET_KEY": NEW, "SECRET_KEY_PREVIOUS": OLD, "DATA_DIR": str(tmp_path),
        "REDIS_PREFIX": redis_prefix, "SYNC_FIRST_LOOKBACK_DAYS": "2",
        "EXCHANGE_OKX_API_URL": f"{url}/okx", "EXCHANGE_OKX_API_KEY": "the-wrong-env-key",
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
    finally:
        await arq.delete(f"{redis_prefix}:queue")
        async for key in arq.scan_iter(match=f"arq:job:{redis_prefix}:*"):
            await arq.delete(key)
        await arq.aclose()
    [run] = await SyncRun.filter(exchange_id="okx")
    assert (run.status, run.error) == (SyncRunStatus.OK, None)
    assert run.records_seen > 0
    [row] = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT ciphertext FROM exchange_credentials", [])
    assert CredentialCipher(NEW.encode()).is_current(row["ciphertext"])  # re-encrypted
