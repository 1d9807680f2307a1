"""Roles on the operators' side (issue 14): an authorization matrix of every admin-chat command
and button against every role, a plain trader and a stranger — only what services/permissions.py
allows passes, each refusal is told and audited; the user file, ban / unban (the trader told,
kept out of withdrawals and linking, their history kept) and role changes, each audited, with
the refusals the rules ask for (oneself, an operator's ban, two admins demoting each other)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.types import Chat
from tortoise import Tortoise

from bot.app import Services
from bot.settings import Settings
from handlers.callbacks import CsvAction, CsvCB, StaffAction, StaffCB
from services.formatting import money
from services.models import AuditEntry, Role, User
from services.permissions import ALLOWED, Permission
from services.rebates import RateService
from services.staff import StaffError, StaffRefusal
from tests.ledger.helpers import make_trader
from tests.payouts.helpers import funded_trader
from tests.support.mocked_bot import MockedBot
from tests.support.updates import callback_update, message_update, tg_user

NEEDS_ROLE = "needs a role"
OPERATORS = {Role.ADMIN: 900, Role.FINANCE: 911, Role.OPS: 912, Role.VIEWER: 913}
TRADER_ID, STRANGER_ID = 914, 915


def admin_chat(settings: Settings) -> Chat:
    assert settings.admin_chat_id is not None
    return Chat(id=settings.admin_chat_id, type="supergroup", title="Admins")


async def say(dp: Dispatcher, bot: MockedBot, user_id: int, text: str,
              chat: Chat | None) -> str:
    bot.session.clear()
    await dp.feed_update(bot, message_update(tg_user(user_id), text, chat))
    return "\n".join(bot.session.texts())


async def press(dp: Dispatcher, bot: MockedBot, user_id: int, data: str, chat: Chat) -> str:
    bot.session.clear()
    await dp.feed_update(bot, callback_update(tg_user(user_id), data, chat=chat))
    return "\n".join(bot.session.texts())


@pytest.fixture
async def people(db: str, dispatcher: Dispatcher, bot: MockedBot) -> dict[str, int]:
    for role, user_id in OPERATORS.items():
        await say(dispatcher, bot, user_id, "/start", None)
        await User.filter(id=user_id).update(role=role)
    await say(dispatcher, bot, TRADER_ID, "/start", None)
    return {role.value: user_id for role, user_id in OPERATORS.items()} | {
        "trader": TRADER_ID, "stranger": STRANGER_ID}


# (what is sent, the permission it needs). The commands' own arguments are wrong on purpose
# where that keeps a passing command from doing anything (a usage answer is still a pass).
COMMANDS = [
    ("/stats", Permission.STATS),
    ("/status", Permission.EXCHANGES_VIEW),
    ("/sync nowhere", Permission.SYNC),
    ("/estimate", Permission.RATES),
    ("/user", Permission.USERS_VIEW),
    ("/role", Permission.USERS_ROLE),
    ("/share", Permission.RATES),
    ("/group", Permission.RATES),
    ("/member", Permission.RATES),
]
BUTTONS = [
    (CsvCB(action=CsvAction.CANCEL, token="nothing").pack(), Permission.SYNC),
    (StaffCB(action=StaffAction.OPEN, user_id=TRADER_ID).pack(), Permission.USERS_VIEW),
    (StaffCB(action=StaffAction.BAN, user_id=TRADER_ID).pack(), Permission.USERS_BAN),
    (StaffCB(action=StaffAction.ROLE, user_id=TRADER_ID, role="viewer").pack(),
     Permission.USERS_ROLE),
    (StaffCB(action=StaffAction.GROUP, user_id=TRADER_ID).pack(), Permission.RATES),
]


def _cases(table: list[tuple[str, Permission]]) -> Iterator[Any]:
    for sent, permission in table:
        for who in ("admin", "finance", "ops", "viewer", "trader", "stranger"):
            ok = who not in ("trader", "stranger") and Role(who) in ALLOWED[permission]
            yield pytest.param(sent, who, ok, id=f"{sent.split()[0]}-{who}")


async def _refusals(user_id: int) -> int:
    return await AuditEntry.filter(actor_id=user_id,
                                   action__in=["admin.refused", "user.ban_refused",
                                               "user.role_refused"]).count()


@pytest.mark.parametrize("sent, who, ok", list(_cases(COMMANDS)))
async def test_every_admin_command_against_every_role(  # type: ignore[no-untyped-def]
    dispatcher, bot, settings, people, sent: str, who: str, ok: bool,
) -> None:
    user_id = people[who]
    said = await say(dispatcher, bot, user_id, sent, admin_chat(settings))
    assert said, "an operator is never left in silence"
    assert (NEEDS_ROLE not in said and "Press /start" not in said) == ok, said
    assert await _refusals(user_id) == (0 if ok else 1)


@pytest.mark.parametrize("data, who, ok", list(_cases(BUTTONS)))
async def test_every_admin_button_against_every_role(  # type: ignore[no-untyped-def]
    dispatcher, bot, settings, people, data: str, who: str, ok: bool,
) -> None:
    user_id = people[who]
    said = await press(dispatcher, bot, user_id, data, admin_chat(settings))
    assert said
    refused = NEEDS_ROLE in said or "does not allow" in said or "Press /start" in said
    assert refused != ok, said
    assert await _refusals(user_id) == (0 if ok else 1)
    if not ok:  # and nothing changed
        trader = await User.get(id=TRADER_ID)
        assert (trader.is_banned, trader.role) == (False, Role.TRADER)


async def test_a_command_outside_the_admin_chat_is_not_an_admin_command(  # type: ignore[no-untyped-def]
    dispatcher, bot, people,
) -> None:
    said = await say(dispatcher, bot, people["admin"], f"/user {TRADER_ID}", None)
    assert "Role:" not in said


async def test_the_user_file_by_id_username_and_uid(  # type: ignore[no-untyped-def]
    dispatcher, bot, settings, people, services: Services,
) -> None:
    trader, uid = await funded_trader(Decimal("75.5"))
    available = money((await services.balances.summary(trader)).available)
    await User.filter(id=trader).update(username="Whale_1", first_name="<b>Whale</b>")
    for query in (str(trader), "@whale_1", uid):
        said = await say(dispatcher, bot, people["viewer"], f"/user {query}",
                         admin_chat(settings))
        assert f"id <code>{trader}</code>" in said, query
        assert "&lt;b&gt;Whale&lt;/b&gt;" in said  # their name is theirs, not markup
        assert f"available {available} ·" in said and uid in said
    assert "Nobody found" in await say(dispatcher, bot, people["viewer"], "/user @nobody_here",
                                       admin_chat(settings))
    # A viewer reads; the buttons to act are not offered to them.
    assert "Ban" not in "".join(
        str(call.reply_markup) for call in bot.session.calls if hasattr(call, "reply_markup"))


async def test_ban_and_unban_tell_the_trader_and_keep_them_out(  # type: ignore[no-untyped-def]
    dispatcher, bot, settings, people, services: Services,
) -> None:
    trader, _ = await funded_trader(Decimal(40))
    await User.filter(id=trader).update(role=Role.TRADER)
    said = await press(dispatcher, bot, people["ops"],
                       StaffCB(action=StaffAction.BAN, user_id=trader).pack(),
                       admin_chat(settings))
    assert "Banned. They have been told." in said and "⛔ <b>Banned</b>" in said
    assert (await User.get(id=trader)).is_banned
    told = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT text_key FROM notifications WHERE chat_id = $1 ORDER BY id", [trader])
    assert [row["text_key"] for row in told][-1:] == ["staff.banned"]
    # Kept out of the money and of linking, their history still there.
    assert (await services.balances.summary(trader)).available == Decimal(40)
    for command in ("/withdraw", "/start"):
        assert "blocked" in await say(dispatcher, bot, trader, command, None)
    audit = await AuditEntry.filter(object_id=str(trader), action="user.ban").first()
    assert audit is not None and audit.actor_id == people["ops"]
    assert (audit.before, audit.after) == ({"banned": False}, {"banned": True})
    await press(dispatcher, bot, people["ops"],
                StaffCB(action=StaffAction.UNBAN, user_id=trader).pack(), admin_chat(settings))
    assert not (await User.get(id=trader)).is_banned
    assert await AuditEntry.filter(object_id=str(trader), action="user.unban").count() == 1


async def test_roles_given_and_the_refusals_the_rules_ask_for(  # type: ignore[no-untyped-def]
    dispatcher, bot, settings, people, services: Services,
) -> None:
    admin = people["admin"]
    said = await say(dispatcher, bot, admin, f"/role {TRADER_ID} finance", admin_chat(settings))
    assert "is now: Finance" in said
    assert (await User.get(id=TRADER_ID)).role == Role.FINANCE
    entry = await AuditEntry.filter(action="user.role", object_id=str(TRADER_ID)).first()
    assert entry is not None and (entry.before, entry.after) == ({"role": "trader"},
                                                                 {"role": "finance"})
    refusals = [
        ((admin, admin, Role.TRADER), StaffRefusal.YOURSELF),
        ((admin, TRADER_ID, Role.FINANCE), StaffRefusal.UNCHANGED),
        ((admin, 123, Role.OPS), StaffRefusal.UNKNOWN_USER),
        ((people["ops"], TRADER_ID, Role.ADMIN), StaffRefusal.NOT_ALLOWED),
    ]
    for (actor, target, role), refusal in refusals:
        with pytest.raises(StaffError) as caught:
            await services.staff.set_role(actor, target, role)
        assert caught.value.refusal is refusal
    with pytest.raises(StaffError) as caught:
        await services.staff.set_banned(admin, people["ops"], True)
    assert caught.value.refusal is StaffRefusal.STAFF_BAN
    assert await AuditEntry.filter(action__endswith="_refused").count() == len(refusals) + 1


async def test_two_admins_demoting_each_other_at_once_leave_one(  # type: ignore[no-untyped-def]
    people, services: Services,
) -> None:
    second, _ = await make_trader("okx")
    await User.filter(id=second).update(role=Role.ADMIN)
    first = people["admin"]
    outcomes = await asyncio.gather(
        services.staff.set_role(first, second, Role.TRADER),
        services.staff.set_role(second, first, Role.TRADER), return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) == ["Change", "StaffError"]
    assert await User.filter(role=Role.ADMIN, id__in=[first, second]).count() == 1


async def test_the_user_file_links_to_the_users_page_in_the_admin_screens(  # type: ignore[no-untyped-def]
    dispatcher, bot, settings, people, monkeypatch: pytest.MonkeyPatch,
) -> None:
    trader, _ = await funded_trader(Decimal(5))

    async def links() -> list[str]:
        bot.session.clear()
        await say(dispatcher, bot, people["viewer"], f"/user {trader}", admin_chat(settings))
        markups = [call.reply_markup for call in bot.session.calls
                   if getattr(call, "reply_markup", None) is not None]
        return [button.url for markup in markups for row in markup.inline_keyboard
                for button in row if button.url]

    monkeypatch.setitem(dispatcher.workflow_data, "miniapp_url", "https://cr.example.com/app/")
    # A link (web_app buttons are refused in groups), in the reader's language.
    assert await links() == [f"https://cr.example.com/app/admin/user?id={trader}&lang=en"]
    monkeypatch.setitem(dispatcher.workflow_data, "miniapp_url", None)
    assert await links() == []  # no address, no button


async def test_the_user_file_puts_a_trader_in_a_rate_group(  # type: ignore[no-untyped-def]
    dispatcher, bot, settings, people,
) -> None:
    rates = RateService()
    vip = await rates.create_group("VIP", actor_id=people["admin"])
    await rates.set_group_share(vip, Decimal("0.75"), "okx", actor_id=people["admin"])
    trader, _ = await funded_trader(Decimal(5))
    chat = admin_chat(settings)
    said = await say(dispatcher, bot, people["admin"], f"/user {trader}", chat)
    assert "Rate group</b>: none" in said
    [markup] = [call.reply_markup for call in bot.session.calls
                if getattr(call, "reply_markup", None) is not None]
    buttons = {b.text: b.callback_data for row in markup.inline_keyboard for b in row}
    assert "👥 VIP" in buttons and "👥 No group" not in buttons

    # A viewer's press of the same button is refused, audited, and changes nothing.
    said = await press(dispatcher, bot, people["viewer"], buttons["👥 VIP"] or "", chat)
    assert "does not allow" in said
    today = datetime.now(UTC).date()
    assert (await rates.quote_share(trader, "okx", today)).share == Decimal("0.6")

    said = await press(dispatcher, bot, people["admin"], buttons["👥 VIP"] or "", chat)
    assert "Rate group</b>: VIP" in said  # the file, edited in place
    assert (await rates.quote_share(trader, "okx", today)).share == Decimal("0.75")
    audit = await AuditEntry.filter(action="rate.member", object_id=str(trader)).first()
    assert audit is not None and audit.actor_id == people["admin"]
    # Out of the group again: the exchange's share.
    out = StaffCB(action=StaffAction.GROUP, user_id=trader).pack()
    said = await press(dispatcher, bot, people["admin"], out, chat)
    assert "Rate group</b>: none" in said
    assert (await rates.quote_share(trader, "okx", today)).share == Decimal("0.6")
    # An operator is no trader: no group for them, and no button.
    said = await say(dispatcher, bot, people["admin"], f"/user {people['ops']}", chat)
    assert "Rate group" not in said
