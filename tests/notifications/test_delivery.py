"""Delivery through a real aiogram Bot to the Telegram stub: language, escaping, limits, 429s,
blocked chats, crashed claims and concurrent loops."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from aiogram import Bot
from redis.asyncio import Redis

from bot.outbox import LocalLimiter, OutboxDelivery, RedisLimiter, SendLimiter
from sandbox.telegram import RateLimits, StubState
from services.i18n import Catalog
from services.models import Notification, NotificationStatus
from services.notifications import NotificationService
from tests.notifications.conftest import ADMIN_GROUP, ALICE, BORIS, CAROL, MANY


def delivery(bot: Bot, i18n: Catalog, limiter: SendLimiter | None = None,
             service: NotificationService | None = None) -> OutboxDelivery:
    return OutboxDelivery(bot, service or NotificationService(), i18n,
                          limiter or LocalLimiter())


async def deliver_all(loop: OutboxDelivery, within: float = 10) -> None:
    """Run the loop like the cron job does, until nothing is pending (or ``within`` s)."""
    deadline = time.monotonic() + within
    while await Notification.filter(status=NotificationStatus.PENDING).exists():
        assert time.monotonic() < deadline, "notifications still pending"
        await loop.run(budget=1)
        await asyncio.sleep(0.05)


def sends(state: StubState, chat_id: int | None = None) -> list:  # type: ignore[type-arg]
    return [c for c in state.calls_to("sendMessage")
            if chat_id is None or int(c.params["chat_id"]) == chat_id]


async def test_rendered_in_the_recipients_language_and_escaped(
    traders: None, tg_bot: Bot, stub_state: StubState, i18n: Catalog
) -> None:
    service = NotificationService()
    params = {"exchange": "Bybit", "uid": "<b>42</b>&"}
    for chat in (ALICE, BORIS, CAROL):
        await service.enqueue(f"v:{chat}", chat, "uid_verified", "notify.uid_verified", params,
                              user_id=chat)
    await service.enqueue("r:boris", BORIS, "uid_rejected", "notify.uid_rejected",
                          {"exchange": "OKX", "uid": "7", "reason": "not_found"}, user_id=BORIS)
    await service.enqueue("admin:1", ADMIN_GROUP, "admin", "notify.first_trade",
                          {"exchange": "OKX", "uid": "9"}, silent=True)
    await deliver_all(delivery(tg_bot, i18n))

    def texts(chat: int) -> list[str]:
        return [m.sent_text or "" for m in stub_state.bot_messages(chat)]

    (alice,) = texts(ALICE)  # chose Russian in Settings, although Telegram says English
    assert "подтверждён" in alice
    assert "&lt;b&gt;42&lt;/b&gt;&amp;" in alice and "<b>42" not in alice
    assert stub_state.bot_messages(ALICE)[0].text is not None
    assert "<b>42</b>&" in (stub_state.bot_messages(ALICE)[0].text or "")  # shown as typed
    verified, rejected = texts(BORIS)  # Telegram's Russian
    assert "подтверждён" in verified
    assert "Не удалось подтвердить" in rejected
    assert i18n.translator("ru")("accounts.reject.not_found") in rejected
    (carol,) = texts(CAROL)  # German is not supported: the default, English
    assert "is verified" in carol
    (admin,) = texts(ADMIN_GROUP)  # not a user: the default language
    assert "first trades" in admin
    assert sends(stub_state, ADMIN_GROUP)[0].params.get("disable_notification") in (True, "true")
    assert not sends(stub_state, ALICE)[0].params.get("disable_notification")
    assert all(c.params.get("parse_mode") == "HTML" for c in sends(stub_state))
    assert await Notification.filter(status=NotificationStatus.SENT).count() == 5


async def test_429_is_obeyed_and_nothing_is_lost(
    traders: None, tg_bot: Bot, stub_state: StubState, i18n: Catalog
) -> None:
    service = NotificationService()
    await service.enqueue("v", ALICE, "uid_verified", "notify.uid_verified",
                          {"exchange": "Bybit", "uid": "1"}, user_id=ALICE)
    stub_state.fail_next(1, method="sendMessage", chat_id=ALICE, retry_after=1)
    await deliver_all(delivery(tg_bot, i18n))
    first, second = sends(stub_state, ALICE)
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 1.0  # retry_after was waited out
    row = await Notification.get(dedupe_key="v")
    assert row.status == NotificationStatus.SENT
    assert row.attempts == 1  # the 429 did not use up an attempt
    assert len(stub_state.bot_messages(ALICE)) == 1


@pytest.mark.parametrize("limiter_kind", ["local", "redis"])
async def test_one_message_per_second_per_chat(
    traders: None, tg_bot: Bot, stub_state: StubState, i18n: Catalog, redis: Redis,
    redis_prefix: str, limiter_kind: str,
) -> None:
    stub_state.enable_rate_limits(RateLimits())  # the stub answers 429 like Telegram would
    service = NotificationService()
    for n in range(3):
        await service.enqueue(f"n{n}", BORIS, "first_trade", "notify.first_trade",
                              {"exchange": "OKX", "uid": str(n)}, user_id=BORIS)
    limiter = LocalLimiter() if limiter_kind == "local" else RedisLimiter(redis, redis_prefix)
    await deliver_all(delivery(tg_bot, i18n, limiter))
    calls = sends(stub_state, BORIS)
    assert [c.status for c in calls] == [200, 200, 200]  # no 429: we paced ourselves
    assert all(b.at - a.at >= 0.95 for a, b in zip(calls, calls[1:], strict=False))
    # In order, oldest first.
    assert [m.sent_text.split("<code>")[1][0] for m in stub_state.bot_messages(BORIS)
            if m.sent_text] == ["0", "1", "2"]


async def test_blocked_bot_fails_for_good_without_retries(
    traders: None, tg_bot: Bot, stub_state: StubState, i18n: Catalog
) -> None:
    stub_state.block_bot(CAROL)
    service = NotificationService()
    await service.enqueue("v", CAROL, "uid_verified", "notify.uid_verified",
                          {"exchange": "Bybit", "uid": "1"}, user_id=CAROL)
    await service.enqueue("gone", 424242, "x", "notify.first_trade",
                          {"exchange": "Bybit", "uid": "1"})  # a chat Telegram does not know
    loop = delivery(tg_bot, i18n)
    await deliver_all(loop)
    await loop.run(budget=1)
    assert len(sends(stub_state, CAROL)) == 1 and sends(stub_state, CAROL)[0].status == 403
    assert len(sends(stub_state, 424242)) == 1
    blocked = await Notification.get(dedupe_key="v")
    assert blocked.status == NotificationStatus.FAILED and blocked.attempts == 1
    assert "blocked" in (blocked.last_error or "")
    gone = await Notification.get(dedupe_key="gone")
    assert gone.status == NotificationStatus.FAILED and "chat not found" in (gone.last_error or "")


async def test_network_error_is_retried_with_backoff(
    traders: None, tg_bot: Bot, stub_state: StubState, i18n: Catalog
) -> None:
    service = NotificationService()
    await service.enqueue("v", ALICE, "uid_verified", "notify.uid_verified",
                          {"exchange": "Bybit", "uid": "1"}, user_id=ALICE)
    stub_state.fail_next(1, method="sendMessage", error_code=502, description="Bad Gateway")
    stats = await delivery(tg_bot, i18n).run(budget=1)
    assert stats.rescheduled == 1
    row = await Notification.get(dedupe_key="v")
    assert row.status == NotificationStatus.PENDING and row.attempts == 1
    assert row.not_before is not None and row.not_before > row.created_at + timedelta(seconds=4)
    assert "Bad Gateway" in (row.last_error or "")


async def test_a_crashed_claim_is_delivered_after_its_lease(
    traders: None, tg_bot: Bot, stub_state: StubState, i18n: Catalog
) -> None:
    service = NotificationService(lease=timedelta(seconds=1))
    await service.enqueue("v", ALICE, "uid_verified", "notify.uid_verified",
                          {"exchange": "Bybit", "uid": "1"}, user_id=ALICE)
    assert len(await service.claim_due(10)) == 1  # a worker claims it, then dies
    loop = delivery(tg_bot, i18n, service=service)
    assert (await loop.run(budget=0.5)).sent == 0  # still claimed: nobody else sends it
    await asyncio.sleep(1.1)
    assert (await loop.run(budget=1)).sent == 1
    assert len(sends(stub_state, ALICE)) == 1


async def test_two_loops_never_send_a_row_twice(
    traders: None, tg_bot: Bot, stub_state: StubState, i18n: Catalog, redis: Redis,
    redis_prefix: str,
) -> None:
    stub_state.enable_rate_limits(RateLimits())
    service = NotificationService()
    for chat in MANY:
        for n in range(2):
            await service.enqueue(f"{chat}:{n}", chat, "first_trade", "notify.first_trade",
                                  {"exchange": "OKX", "uid": f"{chat}-{n}"}, user_id=chat)
    # Two workers: their own services and Bots, one shared Redis limiter.
    loops = [delivery(tg_bot, i18n, RedisLimiter(redis, redis_prefix), NotificationService())
             for _ in range(2)]
    deadline = time.monotonic() + 15
    while await Notification.filter(status=NotificationStatus.PENDING).exists():
        assert time.monotonic() < deadline
        await asyncio.gather(*(loop.run(budget=1) for loop in loops))
    calls = sends(stub_state)
    assert all(c.status == 200 for c in calls)
    uids = [c.params["text"].split("<code>")[1].split("</code>")[0] for c in calls]
    assert sorted(uids) == sorted(f"{chat}-{n}" for chat in MANY for n in range(2))
    assert await Notification.filter(status=NotificationStatus.SENT, attempts=1).count() == 20
