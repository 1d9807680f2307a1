"""The admin chat: roles checked on every update, exchange status, "sync now"."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Dispatcher
from aiogram.types import Chat
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from bot.app import Services
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


@pytest.fixture
def okx_configured(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test settings carry no exchange keys; here OKX has one."""
    monkeypatch.setattr(services.sync, "is_configured", lambda exchange_id: exchange_id == "okx")


async def test_status_on_a_fresh_install_is_not_all_red(db, dispatcher, bot, settings) -> None:  # type: ignore[no-untyped-def]
    await register(dispatcher, bot, ADMIN)
    assert (await User.get(id=ADMIN)).role == Role.ADMIN  # from ADMIN_IDS
    text = await say(dispatcher, bot, ADMIN, "/status", admin_chat(settings))
    assert "<b>Exchanges</b>" in text
    assert ("⚫ <b>OKX</b> — not configured (no API key: enter one in the admin screens' "
            "Exchanges, or set EXCHANGE_OKX_API_KEY)") in text
    assert "📄 <b>Binance</b> — CSV imports · last import: none yet" in text
    assert "🔴" not in text and "Error" not in text


async def test_status_of_a_configured_exchange_never_synced_says_why(  # type: ignore[no-untyped-def]
    db, dispatcher, bot, settings, okx_configured,
) -> None:
    await register(dispatcher, bot, ADMIN)
    text = await say(dispatcher, bot, ADMIN, "/status", admin_chat(settings))
    assert "🔴 <b>OKX</b> — Error · never\n    never synced yet" in text
    assert text.count("🔴") == 1


async def test_roles_are_checked_on_every_update(db, dispatcher, bot, settings) -> None:  # type: ignore[no-untyped-def]
    await register(dispatcher, bot, TRADER)
    # A trader in the admin chat is told the command needs a role.
    assert "needs a role" in await say(dispatcher, bot, TRADER, "/status", admin_chat(settings))
    # Someone the bot never saw (an admin who did not press /start yet) is told what to do.
    said = await say(dispatcher, bot, 999_999, "/status", admin_chat(settings))
    assert "Press /start in a private chat" in said
    # Chatter that is not a command gets nothing.
    assert await say(dispatcher, bot, 999_999, "hello all", admin_chat(settings)) == ""
    # Demoting an admin takes effect on the next update.
    await register(dispatcher, bot, ADMIN)
    await User.filter(id=ADMIN).update(role=Role.TRADER)
    assert "<b>Exchanges</b>" not in await say(dispatcher, bot, ADMIN, "/status",
                                                 admin_chat(settings))
    # The admin command in a private chat is not an admin command.
    await User.filter(id=ADMIN).update(role=Role.ADMIN)
    assert "did not understand" in await say(dispatcher, bot, ADMIN, "/status", None)


async def test_sync_now_enqueues_one_job(  # type: ignore[no-untyped-def]
    db, dispatcher, bot, settings, arq, okx_configured,
) -> None:
    await register(dispatcher, bot, ADMIN)
    chat = admin_chat(settings)
    assert "post the result here" in await say(dispatcher, bot, ADMIN, "/sync okx", chat)
    assert "already queued or running" in await say(dispatcher, bot, ADMIN, "/sync okx", chat)
    jobs = await arq.queued_jobs(queue_name=queue_name(settings.redis_prefix))
    assert [(job.function, job.args) for job in jobs] == [("sync_exchange", ("okx", "manual"))]
    assert "no affiliate API" in await say(dispatcher, bot, ADMIN, "/sync binance", chat)
    said = await say(dispatcher, bot, ADMIN, "/sync bybit", chat)
    assert "or set EXCHANGE_BYBIT_API_KEY" in said
    said = await say(dispatcher, bot, ADMIN, "/sync nowhere", chat)
    assert "Unknown exchange “nowhere”" in said and "okx" in said and "binance" not in said
    assert "Usage" in await say(dispatcher, bot, ADMIN, "/sync", chat)


async def test_estimate_rate_admins_only(db, dispatcher, bot, settings, arq) -> None:  # type: ignore[no-untyped-def]
    from services.models.rates import EstimateRate

    await register(dispatcher, bot, ADMIN)
    await register(dispatcher, bot, TRADER)
    await User.filter(id=TRADER).update(role=Role.OPS)
    chat = admin_chat(settings)
    # Operators run the exchanges; money settings are the admins'.
    said = await say(dispatcher, bot, TRADER, "/estimate bybit volume 0.0002", chat)
    assert "needs a role you do not have" in said
    assert "Usage" in await say(dispatcher, bot, ADMIN, "/estimate bybit volume -1", chat)
    assert "Usage" in await say(dispatcher, bot, ADMIN, "/estimate bybit speed 0.1", chat)
    text = await say(dispatcher, bot, ADMIN, "/estimate bybit volume 0.00016 2026-01-01", chat)
    assert "volume × 0.00016" in text and "2026-01-01" in text
    estimate = await EstimateRate.get(exchange_id="bybit")
    assert str(estimate.rate).rstrip("0") == "0.00016" and estimate.product == "*"
    jobs = await arq.queued_jobs(queue_name=queue_name(settings.redis_prefix))
    assert [(job.function, job.args) for job in jobs] == [("accrue_rebates", ("bybit",))]
