"""The admin chat: roles checked on every update, exchange status, "sync now"."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Dispatcher
from aiogram.types import Chat
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from bot.settings import Settings
from services.jobs import queue_name
from services.models import Role, User
from tests.conftest import TEST_REDIS_URL
from tests.support.mocked_bot import MockedBot
from tests.support.updates import message_update, tg_user

ADMIN, TRADER = 900, 901


@pytest.fixture
async def arq(dispatcher: Dispatcher, settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(TEST_REDIS_URL))
    dispatcher["arq"] = pool
    yield pool
    await pool.delete(queue_name(settings.redis_prefix))
    async for key in pool.scan_iter(match=f"arq:job:{settings.redis_prefix}:*"):
        await pool.delete(key)
    await pool.aclose()


def admin_chat(settings: Settings) -> Chat:
    assert settings.admin_chat_id is not None
    return Chat(id=settings.admin_chat_id, type="supergroup", title="Admins")


async def say(dp: Dispatcher, bot: MockedBot, user_id: int, text: str, chat: Chat | None) -> str:
    bot.session.clear()
    await dp.feed_update(bot, message_update(tg_user(user_id), text, chat))
    return "\n".join(bot.session.texts())


async def register(dp: Dispatcher, bot: MockedBot, user_id: int) -> None:
    await say(dp, bot, user_id, "/start", None)


async def test_status_for_an_admin_in_the_admin_chat(db, dispatcher, bot, settings) -> None:  # type: ignore[no-untyped-def]
    await register(dispatcher, bot, ADMIN)
    assert (await User.get(id=ADMIN)).role == Role.ADMIN  # from ADMIN_IDS
    text = await say(dispatcher, bot, ADMIN, "/status", admin_chat(settings))
    assert "<b>Exchanges</b>" in text
    assert "🔴 <b>OKX</b> — Error · never" in text  # never synced yet
    assert text.count("never") == 11


async def test_roles_are_checked_on_every_update(db, dispatcher, bot, settings) -> None:  # type: ignore[no-untyped-def]
    await register(dispatcher, bot, TRADER)
    # A trader in the admin chat is ignored.
    assert await say(dispatcher, bot, TRADER, "/status", admin_chat(settings)) == ""
    # Someone nobody knows is ignored too.
    assert await say(dispatcher, bot, 999_999, "/status", admin_chat(settings)) == ""
    # Demoting an admin takes effect on the next update.
    await register(dispatcher, bot, ADMIN)
    await User.filter(id=ADMIN).update(role=Role.TRADER)
    assert await say(dispatcher, bot, ADMIN, "/status", admin_chat(settings)) == ""
    # The admin command in a private chat is not an admin command.
    await User.filter(id=ADMIN).update(role=Role.ADMIN)
    assert "did not understand" in await say(dispatcher, bot, ADMIN, "/status", None)


async def test_sync_now_enqueues_one_job(db, dispatcher, bot, settings, arq) -> None:  # type: ignore[no-untyped-def]
    await register(dispatcher, bot, ADMIN)
    chat = admin_chat(settings)
    assert "queued" in await say(dispatcher, bot, ADMIN, "/sync okx", chat)
    assert "already queued or running" in await say(dispatcher, bot, ADMIN, "/sync okx", chat)
    jobs = await arq.queued_jobs(queue_name=queue_name(settings.redis_prefix))
    assert [(job.function, job.args) for job in jobs] == [("sync_exchange", ("okx", "manual"))]
    assert "no affiliate API" in await say(dispatcher, bot, ADMIN, "/sync binance", chat)
    assert "Usage" in await say(dispatcher, bot, ADMIN, "/sync nowhere", chat)


async def test_estimate_rate_admins_only(db, dispatcher, bot, settings, arq) -> None:  # type: ignore[no-untyped-def]
    from services.models.rates import EstimateRate

    await register(dispatcher, bot, ADMIN)
    await register(dispatcher, bot, TRADER)
    await User.filter(id=TRADER).update(role=Role.OPS)
    chat = admin_chat(settings)
    # Operators run the exchanges; money settings are the admins'.
    assert await say(dispatcher, bot, TRADER, "/estimate bybit volume 0.0002", chat) == ""
    assert "Usage" in await say(dispatcher, bot, ADMIN, "/estimate bybit volume -1", chat)
    assert "Usage" in await say(dispatcher, bot, ADMIN, "/estimate bybit speed 0.1", chat)
    text = await say(dispatcher, bot, ADMIN, "/estimate bybit volume 0.00016 2026-01-01", chat)
    assert "volume × 0.00016" in text and "2026-01-01" in text
    estimate = await EstimateRate.get(exchange_id="bybit")
    assert str(estimate.rate).rstrip("0") == "0.00016" and estimate.product == "*"
    jobs = await arq.queued_jobs(queue_name=queue_name(settings.redis_prefix))
    assert [(job.function, job.args) for job in jobs] == [("accrue_rebates", ("bybit",))]
