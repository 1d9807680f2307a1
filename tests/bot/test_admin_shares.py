"""Trader shares and rate groups from the admin chat (issue 14): a change takes effect from
today or a later day (never an earlier one: booked days keep their share), its history is kept,
the engine books with it from that day, and every change is audited."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from aiogram import Dispatcher
from aiogram.types import Chat
from tortoise import Tortoise

from bot.settings import Settings
from services.models import AuditEntry, Exchange, RateGroupMember
from services.rebates import RateService, RebateEngine
from services.rebates.rate_views import exchange_shares, groups
from tests.clock import today
from tests.ledger.helpers import make_trader, put_record
from tests.support.mocked_bot import MockedBot
from tests.support.updates import message_update, tg_user

ADMIN = 900
D = Decimal


async def say(dp: Dispatcher, bot: MockedBot, text: str, settings: Settings) -> str:
    bot.session.clear()
    chat = Chat(id=settings.admin_chat_id or 0, type="supergroup", title="Admins")
    await dp.feed_update(bot, message_update(tg_user(ADMIN), text, chat))
    return "\n".join(bot.session.texts())


async def test_a_share_from_today_and_one_set_for_later(  # type: ignore[no-untyped-def]
    db, dispatcher, bot, settings,
) -> None:
    await dispatcher.feed_update(bot, message_update(tg_user(ADMIN), "/start"))
    later = today() + timedelta(days=5)
    assert "from" in await say(dispatcher, bot, "/share okx 65", settings)
    said = await say(dispatcher, bot, f"/share okx 62,5 {later.isoformat()}", settings)
    assert "62.5%" in said and later.isoformat() in said
    [okx] = [line for line in await exchange_shares(today()) if line.exchange_id == "okx"]
    assert (okx.share, okx.since, okx.upcoming) == (D("0.65"), today(), ((later, D("0.625")),))
    assert (await Exchange.get(id="okx")).trader_share == D("0.65")  # shown: in force today
    listing = await say(dispatcher, bot, "/share", settings)
    assert f"OKX: 65% since {today().isoformat()}" in listing and "62.5%" in listing
    # The engine books today's records with today's share.
    trader, uid = await make_trader("okx")
    await put_record("okx", uid, today(), commission=D(100))
    await RebateEngine().accrue_all()
    assert (await RateService().quote_share(trader, "okx", today())).share == D("0.65")
    assert (await RateService().quote_share(trader, "okx", later)).share == D("0.625")
    audit = await AuditEntry.filter(action="rate.exchange_share").order_by("id")
    assert [(a.actor_id, a.after["share"]) for a in audit] == [
        (ADMIN, "0.65"), (ADMIN, "0.625")]  # type: ignore[index]


async def test_bad_shares_and_past_days_are_refused_with_the_usage(  # type: ignore[no-untyped-def]
    db, dispatcher, bot, settings,
) -> None:
    await dispatcher.feed_update(bot, message_update(tg_user(ADMIN), "/start"))
    yesterday = (today() - timedelta(days=1)).isoformat()
    for bad in ("/share okx", "/share okx 101", "/share okx 62.555", "/share nowhere 60",
                f"/share okx 60 {yesterday}", "/share okx sixty", "/share okx 60 13-13-2026"):
        assert "Set a trader share" in await say(dispatcher, bot, bad, settings), bad
    assert (await Exchange.get(id="okx")).trader_share == D("0.6")
    assert not await AuditEntry.filter(action="rate.exchange_share").exists()


async def test_a_rate_group_its_shares_and_members(  # type: ignore[no-untyped-def]
    db, dispatcher, bot, settings,
) -> None:
    await dispatcher.feed_update(bot, message_update(tg_user(ADMIN), "/start"))
    trader, uid = await make_trader("okx")
    assert "No rate groups yet" in await say(dispatcher, bot, "/group", settings)
    assert "VIP1" in await say(dispatcher, bot, "/group new VIP1", settings)
    assert "70%" in await say(dispatcher, bot, "/group VIP1 all 70", settings)
    assert "75%" in await say(dispatcher, bot, "/group vip1 okx 75", settings)
    assert "Rate groups:" in await say(dispatcher, bot, "/group VIP2 okx 75", settings)
    assert "is in group" in await say(dispatcher, bot, f"/member {uid} VIP1", settings)
    [vip] = await groups(today())
    assert (vip.name, vip.members) == ("VIP1", 1)
    assert {(e, s) for e, s, _ in vip.shares} == {("*", D("0.7")), ("okx", D("0.75"))}
    assert (await RateService().quote_share(trader, "okx", today())).share == D("0.75")
    assert (await RateService().quote_share(trader, "bybit", today())).share == D("0.7")
    assert "is in group" in await say(dispatcher, bot, f"/member {trader} none", settings)
    assert (await RateService().quote_share(trader, "okx", today())).share == D("0.6")
    assert await RateGroupMember.filter(user_id=trader).count() == 1  # corrected the same day
    actions = [a.action for a in await AuditEntry.all().order_by("id")]
    assert actions == ["rate.group_create", "rate.group_share", "rate.group_share",
                       "rate.member", "rate.member"]


async def test_a_share_set_for_later_is_shown_from_its_day(db: str) -> None:
    rates = RateService()
    await rates.set_exchange_share("bybit", D("0.7"), today() + timedelta(days=1))
    assert await rates.apply_due_shares() == 0
    await Exchange.filter(id="bybit").update(trader_share=D("0.6"))
    await Tortoise.get_connection("default").execute_query(
        "UPDATE rate_exchange_shares SET valid_from = $1 WHERE exchange_id = 'bybit' "
        "AND share = 0.7", [today()])
    assert await rates.apply_due_shares() == 1
    assert (await Exchange.get(id="bybit")).trader_share == D("0.7")
