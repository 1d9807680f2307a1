"""Start-up waits for the stores (bot/stores.py) and the web process's watch on the worker's
heartbeat (bot/watchdog.py)."""

from __future__ import annotations

import logging
import time

import pytest
from asyncpg.exceptions import CannotConnectNowError
from redis.asyncio import Redis

from bot import stores
from bot.stores import StoreUnreachable, wait_for_store
from bot.watchdog import WorkerWatchdog
from services.health import STALE_AFTER_SECONDS, heartbeat_key, write_heartbeat
from services.i18n import Catalog
from tests.support.mocked_bot import MockedBot


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stores, "FIRST_DELAY", 0.01)
    monkeypatch.setattr(stores, "MAX_DELAY", 0.02)


def probe_failing(times: int, error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    async def probe() -> None:
        calls.append(1)
        if len(calls) <= times:
            raise error

    return calls, probe


async def test_a_store_that_comes_up_is_waited_for(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.stores")
    calls, probe = probe_failing(3, CannotConnectNowError("the database system is starting up"))
    await wait_for_store("PostgreSQL", probe, within=5)  # type: ignore[arg-type]
    assert len(calls) == 4
    assert "PostgreSQL is not reachable yet" in caplog.text
    assert "PostgreSQL answers (after 4 attempts)" in caplog.text


async def test_a_store_that_stays_down_is_given_up_with_one_line() -> None:
    calls, probe = probe_failing(10**6, CannotConnectNowError("starting up"))
    started = time.monotonic()
    with pytest.raises(StoreUnreachable, match="PostgreSQL did not answer within 0 s"):
        await wait_for_store("PostgreSQL", probe, within=0.2)  # type: ignore[arg-type]
    assert time.monotonic() - started < 2 and len(calls) > 2


async def test_an_error_that_waiting_cannot_fix_is_raised_at_once() -> None:
    calls, probe = probe_failing(10**6, ValueError("password authentication failed"))
    with pytest.raises(ValueError, match="password"):
        await wait_for_store("PostgreSQL", probe, within=5)  # type: ignore[arg-type]
    assert len(calls) == 1


async def test_the_admin_chat_is_told_once_when_the_worker_stops_and_when_it_is_back(
    redis: Redis, redis_prefix: str, i18n: Catalog,
) -> None:
    bot = MockedBot()
    watchdog = WorkerWatchdog(bot, redis, redis_prefix, -100500, i18n.translator("en"))
    await write_heartbeat(redis, redis_prefix)
    assert await watchdog.check() == "ok"
    await redis.set(heartbeat_key(redis_prefix), f"{time.time() - STALE_AFTER_SECONDS - 30}")
    assert await watchdog.check() == "stale"
    assert await watchdog.check() == "stale"
    # A second web process shares the alert: nobody is told twice.
    other = WorkerWatchdog(bot, redis, redis_prefix, -100500, i18n.translator("en"))
    assert await other.check() == "stale"
    await write_heartbeat(redis, redis_prefix)
    assert await watchdog.check() == "back"
    assert await other.check() == "ok"
    sent = [call.text for call in bot.session.calls if type(call).__name__ == "SendMessage"]
    assert len(sent) == 2, sent
    assert "worker is not running" in sent[0] and f"{STALE_AFTER_SECONDS + 30}" in sent[0]
    assert "running again" in sent[1]


async def test_a_missing_heartbeat_is_stale_only_once_missing_for_long(
    redis: Redis, redis_prefix: str, i18n: Catalog, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redis restarted empty, or the worker just started: not an alert at first sight."""
    bot = MockedBot()
    watchdog = WorkerWatchdog(bot, redis, redis_prefix, -100500, i18n.translator("en"))
    assert await watchdog.check() == "ok"
    later = time.monotonic() + STALE_AFTER_SECONDS + 1
    monkeypatch.setattr("bot.watchdog.time.monotonic", lambda: later)
    assert await watchdog.check() == "stale"
    assert len(bot.session.calls) == 1


async def test_an_alert_telegram_refused_is_sent_at_the_next_look(
    redis: Redis, redis_prefix: str, i18n: Catalog,
) -> None:
    from aiogram.exceptions import TelegramNetworkError
    from aiogram.methods import SendMessage

    bot = MockedBot()
    watchdog = WorkerWatchdog(bot, redis, redis_prefix, -100500, i18n.translator("en"))
    await redis.set(heartbeat_key(redis_prefix), f"{time.time() - STALE_AFTER_SECONDS - 30}")
    real = bot.session.make_request
    failures = [TelegramNetworkError(SendMessage(chat_id=-100500, text="x"), "down")]

    async def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        if failures:
            raise failures.pop()
        return await real(*args, **kwargs)

    bot.session.make_request = flaky  # type: ignore[method-assign]
    assert await watchdog.check() == "stale"  # Telegram refused: not marked as told
    assert await watchdog.check() == "stale"
    sent = [call for call in bot.session.calls if type(call).__name__ == "SendMessage"]
    assert len(sent) == 1 and "worker is not running" in sent[0].text
