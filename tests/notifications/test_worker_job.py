"""The arq worker delivers the outbox: a real burst Worker, its cron run at startup, the Bot it
builds from the settings pointed at the Telegram stub."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.app import Infrastructure
from bot.settings import load_settings
from bot.worker import build_worker, job_name
from sandbox.telegram import StubState
from services.models import Notification, NotificationStatus
from services.notifications import NotificationService
from tests.conftest import TEST_REDIS_URL
from tests.notifications.conftest import BORIS


# arq 0.28's Worker.close calls redis-py's deprecated close().
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_worker_delivers_the_outbox(
    traders: None, stub_state: StubState, stub_url: str, redis: Redis, redis_prefix: str,
    tmp_path: Path,
) -> None:
    await NotificationService().enqueue(
        "first_trade:1", BORIS, "first_trade", "notify.first_trade",
        {"exchange": "OKX", "uid": "5"}, user_id=BORIS,
    )
    settings = load_settings({
        "BOT_TOKEN": stub_state.token, "TELEGRAM_API_URL": stub_url, "SECRET_KEY": "k",
        "DATA_DIR": str(tmp_path), "REDIS_PREFIX": redis_prefix,
    })
    infra = Infrastructure("postgres://unused/db", TEST_REDIS_URL, redis)
    worker = build_worker(settings, infra, burst=True)
    # Only the delivery tick: the sync tick would run real sync jobs, whose results arq keeps
    # under global job ids (arq:result:sync:<exchange>) that other tests' "sync now" would see.
    worker.cron_jobs = [job for job in worker.cron_jobs
                        if job_name(job) == "deliver_notifications"]
    try:
        await worker.async_run()
    finally:
        await worker.close()
    (message,) = stub_state.bot_messages(BORIS)
    assert "Видим первые сделки" in (message.text or "")
    row = await Notification.get(dedupe_key="first_trade:1")
    assert row.status == NotificationStatus.SENT
