"""The worker's Bot does not wait out a 429 inside a send (create_bot's retry middleware is off
for it): the outbox reschedules the notification after retry_after instead."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
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
async def test_the_worker_reschedules_a_429_instead_of_waiting(
    traders: None, stub_state: StubState, stub_url: str, redis: Redis, redis_prefix: str,
    tmp_path: Path,
) -> None:
    await NotificationService().enqueue(
        "first_trade:429", BORIS, "first_trade", "notify.first_trade",
        {"exchange": "OKX", "uid": "5"}, user_id=BORIS,
    )
    stub_state.fail_next(1, method="sendMessage", chat_id=BORIS, retry_after=25)
    settings = load_settings({
        "BOT_TOKEN": stub_state.token, "TELEGRAM_API_URL": stub_url, "SECRET_KEY": "k",
        "DATA_DIR": str(tmp_path), "REDIS_PREFIX": redis_prefix,
    })
    infra = Infrastructure("postgres://unused/db", TEST_REDIS_URL, redis)
    worker = build_worker(settings, infra, burst=True)
    worker.cron_jobs = [job for job in worker.cron_jobs
                        if job_name(job) == "deliver_notifications"]
    started = time.monotonic()
    try:
        await worker.async_run()
    finally:
        await worker.close()
    assert time.monotonic() - started < 20  # did not sit out the 25 s inside the send
    assert [call.status for call in stub_state.calls_to("sendMessage")] == [429]
    row = await Notification.get(dedupe_key="first_trade:429")
    assert row.status != NotificationStatus.SENT and row.attempts == 0
    assert row.not_before is not None
    assert row.not_before >= datetime.now(UTC) + timedelta(seconds=15)
