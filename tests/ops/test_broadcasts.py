"""Broadcasts (issue 14): composed in the admin chat (English, Russian or /skip, a preview,
the audience with its size, Send), each recipient's copy in the outbox once, in their
language; audiences at their edges; and 5,000 traders through the Telegram stand-in enforcing
flood limits and answering 429s: everyone not blocked gets exactly one message, none is lost,
the blocked are counted, the progress message ends with the final count."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods import SendMessage
from aiogram.types import Chat
from tortoise import Tortoise

from bot.broadcast_jobs import broadcast_progress
from bot.outbox import LocalLimiter, OutboxDelivery, TelegramLimits
from handlers.callbacks import BroadcastCB
from sandbox.telegram import StubState, run_stub
from sandbox.telegram.ratelimit import RateLimits
from services.broadcasts import Audience, BroadcastService
from services.i18n import Catalog
from services.models import AuditEntry, Notification, NotificationStatus, User
from services.notifications import NotificationService
from services.rebates import RebateEngine
from tests.ledger.helpers import make_trader, put_record
from tests.support.updates import callback_update, message_update, tg_user

ADMIN = 900
MANY, BLOCKED = 5_000, 50
BASE = 8_000_000


async def _people(count: int, *, base: int = BASE) -> None:
    """``count`` traders in one statement: every 4th Russian by Settings, every 5th Russian by
    Telegram, the rest English."""
    await Tortoise.get_connection("default").execute_query(
        "INSERT INTO users (id, first_name, telegram_language, locale, role, signup_source, "
        "is_banned, digest_mode, created_at) SELECT $1 + n, 'T' || n, "
        "CASE WHEN n % 5 = 0 THEN 'ru-RU' ELSE 'en' END, "
        "CASE WHEN n % 4 = 0 THEN 'ru' END, 'trader', 'organic', false, 'on', now() "
        "FROM generate_series(0, $2 - 1) n", [base, count])


def _expected_language(n: int) -> str:
    return "ru" if n % 4 == 0 or n % 5 == 0 else "en"


async def test_audiences_at_their_edges(db: str) -> None:
    service = BroadcastService()
    await _people(20)
    await User.filter(id=BASE + 1).update(is_banned=True)
    await User.filter(id=BASE + 2).update(role="finance")  # operators are not traders
    assert await service.count(Audience("all")) == 18
    russian = sum(1 for n in range(20) if _expected_language(n) == "ru" and n not in (1, 2))
    assert await service.count(Audience("language", "ru")) == russian
    assert await service.count(Audience("language", "en")) == 18 - russian
    trader, uid = await make_trader("okx")
    assert await service.count(Audience("exchange", "okx")) == 1
    assert await service.count(Audience("active")) == 0
    await put_record("okx", uid, datetime.now(UTC).date() - timedelta(days=3),
                     commission=Decimal(5))
    await RebateEngine().accrue_all()
    assert await service.count(Audience("active")) == 1
    assert await service.count(Audience("all")) == 19


async def test_each_recipient_gets_one_copy_in_their_language(db: str) -> None:
    await _people(10)
    service = BroadcastService()
    started = await service.start(ADMIN, {"en": "Hello <all>", "ru": "Привет"},
                                  Audience("all"))
    assert started.recipients == 10
    rows = {n.user_id: n.params["text"] for n in await Notification.filter(kind="broadcast")}
    assert rows == {BASE + n: ("Привет" if _expected_language(n) == "ru" else "Hello <all>")
                    for n in range(10)}
    again = await service.start(ADMIN, {"en": "Only English"}, Audience("language", "ru"))
    texts = {n.params["text"] for n in await Notification.filter(
        dedupe_key__startswith=f"broadcast:{again.id}:")}
    assert texts == {"Only English"}  # no Russian text: the English one
    audit = await AuditEntry.get(action="broadcast.send", object_id=str(started.id))
    assert audit.actor_id == ADMIN and audit.after["recipients"] == 10  # type: ignore[index]
    with pytest.raises(ValueError):
        await service.start(ADMIN, {"ru": "без английского"}, Audience("all"))


async def _say(dispatcher: Any, bot: Any, settings: Any, text: str) -> str:
    bot.session.clear()
    chat = Chat(id=settings.admin_chat_id, type="supergroup", title="Admins")
    await dispatcher.feed_update(bot, message_update(tg_user(ADMIN), text, chat))
    return "\n".join(bot.session.texts())


async def _press(dispatcher: Any, bot: Any, settings: Any, data: BroadcastCB) -> str:
    bot.session.clear()
    chat = Chat(id=settings.admin_chat_id, type="supergroup", title="Admins")
    await dispatcher.feed_update(bot, callback_update(tg_user(ADMIN), data.pack(), chat=chat))
    return "\n".join(bot.session.texts())


async def test_composing_a_broadcast_in_the_admin_chat(  # type: ignore[no-untyped-def]
    db, dispatcher, bot, settings,
) -> None:
    await dispatcher.feed_update(bot, message_update(tg_user(ADMIN), "/start"))
    await _people(12)
    assert "in <b>English</b>" in await _say(dispatcher, bot, settings, "/broadcast")
    assert "at most 3500" in await _say(dispatcher, bot, settings, "x" * 3501)
    assert "in <b>Russian</b>" in await _say(dispatcher, bot, settings, "New <b>rates</b>!")
    preview = await _say(dispatcher, bot, settings, "/skip")
    assert "Preview" in preview and preview.count("New &lt;b&gt;rates&lt;/b&gt;!") == 2
    confirm = await _press(dispatcher, bot, settings,
                           BroadcastCB(action="audience", kind="language", value="ru"))
    russian = sum(1 for n in range(12) if _expected_language(n) == "ru")
    assert f"Send to <b>{russian}</b> traders (language: ru)" in confirm
    assert not await Notification.filter(kind="broadcast").exists()  # nothing before Send
    said = await _press(dispatcher, bot, settings, BroadcastCB(action="send"))
    assert f"0 of {russian} delivered" in said
    assert await Notification.filter(kind="broadcast").count() == russian
    # A second press (a double click) starts nothing more.
    assert "no longer being composed" in await _press(dispatcher, bot, settings,
                                                      BroadcastCB(action="send"))
    assert await Notification.filter(kind="broadcast").count() == russian
    assert not [call for call in bot.session.calls if isinstance(call, SendMessage)]


async def test_cancel_leaves_nothing(dispatcher, bot, settings, db) -> None:  # type: ignore[no-untyped-def]
    await dispatcher.feed_update(bot, message_update(tg_user(ADMIN), "/start"))
    await _say(dispatcher, bot, settings, "/broadcast")
    await _say(dispatcher, bot, settings, "Hello")
    assert "cancelled" in await _say(dispatcher, bot, settings, "/cancel")
    assert not await Notification.filter(kind="broadcast").exists()


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[StubState, Bot]]:
    state = StubState()
    for n in range(MANY):
        state.add_user(BASE + n, f"T{n}", None, "en")
    state.add_group(-100500, "Admins", admins=[])
    async with run_stub(state) as url:
        bot = Bot(state.token, session=AiohttpSession(api=TelegramAPIServer.from_base(url)),
                  default=DefaultBotProperties(parse_mode="HTML"))
        yield state, bot
        await bot.session.close()


async def test_five_thousand_traders_through_flood_limits_and_429s(
    db: str, stand_in: tuple[StubState, Bot], i18n: Catalog,
) -> None:
    state, bot = stand_in
    await _people(MANY)
    for n in range(0, MANY, MANY // BLOCKED):
        state.block_bot(BASE + n)
    # Telegram's limits scaled ×20 so the test takes seconds, not three minutes: the stand-in
    # allows 600 sends a second; our limiter is set to 700, so the stand-in answers 429s.
    state.enable_rate_limits(RateLimits(global_per_second=600))
    service = BroadcastService()
    started = await service.start(ADMIN, {"en": "Rates are up", "ru": "Ставки выросли"},
                                  Audience("all"))
    progress_message = await bot.send_message(-100500, "📣 …")
    await service.set_progress_message(started.id, -100500, progress_message.message_id)
    state.fail_next(3, method="sendMessage", retry_after=1)  # and Telegram's own 429s
    loop = OutboxDelivery(bot, NotificationService(), i18n,
                          LocalLimiter(TelegramLimits(global_per_second=700)), batch_size=200)
    deadline = time.monotonic() + 240
    while await Notification.filter(kind="broadcast",
                                    status=NotificationStatus.PENDING).exists():
        assert time.monotonic() < deadline, "still pending"
        await loop.run(budget=2)
    result = await service.progress(started.id)
    assert (result.total, result.sent, result.blocked, result.failed) == (
        MANY, MANY - BLOCKED, BLOCKED, 0)
    assert any(call.status == 429 for call in state.calls_to("sendMessage"))
    for n in range(MANY):
        got = [m.sent_text for m in state.bot_messages(BASE + n)]
        blocked = n % (MANY // BLOCKED) == 0
        assert got == ([] if blocked else [
            "Ставки выросли" if _expected_language(n) == "ru" else "Rates are up"]), n
    ctx = {"services": type("S", (), {"broadcasts": service})(), "i18n": i18n, "bot": bot}
    assert await broadcast_progress(ctx) == 1
    final = state.bot_messages(-100500)[-1].sent_text or ""
    assert f"{MANY - BLOCKED} of {MANY} delivered" in final and f"{BLOCKED} had blocked" in final
    assert await broadcast_progress(ctx) == 0  # finished: no longer followed


@pytest.mark.parametrize("role", ["finance", "ops", "viewer", "trader"])
async def test_only_admins_broadcast(dispatcher, bot, settings, db, role: str) -> None:  # type: ignore[no-untyped-def]
    operator = 920
    await dispatcher.feed_update(bot, message_update(tg_user(operator), "/start"))
    await User.filter(id=operator).update(role=role)
    bot.session.clear()
    chat = Chat(id=settings.admin_chat_id, type="supergroup", title="Admins")
    await dispatcher.feed_update(bot, message_update(tg_user(operator), "/broadcast", chat))
    assert "needs a role" in "\n".join(bot.session.texts())
    assert await AuditEntry.filter(actor_id=operator, action="admin.refused").count() == 1
