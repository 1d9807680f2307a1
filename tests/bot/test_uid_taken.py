"""A UID another trader holds: refused when it is typed (and again at Confirm, for a race),
with a "this UID is mine" button that posts both sides' details to the admin chat once; a UID
just linked is checked with its exchange at once (a job) or the trader is told when."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from aiogram import Dispatcher

from bot.outbox import render
from handlers.callbacks import DisputeCB, LinkAction, LinkCB
from services.i18n import Catalog
from services.models import ExchangeAccount, Notification
from services.notifications import NotificationService
from tests.support.mocked_bot import MockedBot
from tests.support.updates import callback_update, message_update, tg_user

_ids = itertools.count(40_000)
ADMIN_CHAT = -100777


async def send(dp: Dispatcher, bot: MockedBot, update: Any) -> str:
    bot.session.clear()
    await dp.feed_update(bot, update)
    return "\n".join(bot.session.texts())


def buttons(bot: MockedBot) -> list[Any]:
    with_markup = [c for c in bot.session.calls if getattr(c, "reply_markup", None)]
    return [b for row in with_markup[-1].reply_markup.inline_keyboard for b in row]


async def pick_and_type(dp: Dispatcher, bot: MockedBot, user: Any, exchange: str,
                        uid: str) -> str:
    await send(dp, bot, callback_update(user, LinkCB(action=LinkAction.PICK,
                                                     exchange_id=exchange).pack()))
    return await send(dp, bot, message_update(user, uid))


async def confirm(dp: Dispatcher, bot: MockedBot, user: Any, exchange: str) -> str:
    return await send(dp, bot, callback_update(user, LinkCB(action=LinkAction.CONFIRM,
                                                            exchange_id=exchange).pack()))


class RecordingArq:
    def __init__(self) -> None:
        self.jobs: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    async def enqueue_job(self, name: str, *args: Any, **kwargs: Any) -> object:
        self.jobs.append((name, args, kwargs))
        return object()


@pytest.fixture
def people() -> tuple[Any, Any]:
    return tg_user(next(_ids), "en", "Alice"), tg_user(next(_ids), "en", "Bob")


@pytest.fixture
def with_admin_chat(dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setitem(dispatcher.workflow_data, "admin_chat_id", ADMIN_CHAT)
    return ADMIN_CHAT


async def test_taken_uid_refused_when_typed_and_claimed_once(
    db: str, dispatcher: Dispatcher, bot: MockedBot, people: tuple[Any, Any],
    with_admin_chat: int, i18n: Catalog,
) -> None:
    alice, bob = people
    for person in people:
        await send(dispatcher, bot, message_update(person, "/start"))
    await pick_and_type(dispatcher, bot, alice, "bybit", "11223344")
    assert "is linked" in await confirm(dispatcher, bot, alice, "bybit")

    text = await pick_and_type(dispatcher, bot, bob, "bybit", "11223344")
    assert "already linked to another account" in text
    assert "This UID is mine" in text  # the offer says what the button does
    claim = next(b for b in buttons(bot) if b.text == "🙋 This UID is mine")
    # No Confirm was needed, and the flow is over: a Confirm now is stale.
    assert "expired" in await confirm(dispatcher, bot, bob, "bybit")

    text = await send(dispatcher, bot, callback_update(bob, claim.callback_data))
    assert "Sent to our team" in text
    notes = await Notification.filter(kind="uid_dispute")
    assert len(notes) == 1 and notes[0].chat_id == ADMIN_CHAT
    assert "already has your claim" in await send(dispatcher, bot,
                                                  callback_update(bob, claim.callback_data))
    assert await Notification.filter(kind="uid_dispute").count() == 1

    claimed = (await NotificationService().claim_due(10))
    dispute = next(n for n in claimed if n.kind == "uid_dispute")
    shown = render(i18n, dispute)
    assert f"tg://user?id={bob.id}" in shown and f"tg://user?id={alice.id}" in shown
    assert "Claimed by" in shown and "Held by" in shown and "11223344" in shown
    assert "status pending" in shown and " UTC" in shown  # the link time, in words
    assert await ExchangeAccount.filter(uid="11223344").count() == 1


async def test_claims_that_need_no_team(
    db: str, dispatcher: Dispatcher, bot: MockedBot, people: tuple[Any, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice, bob = people
    for person in people:
        await send(dispatcher, bot, message_update(person, "/start"))
    await pick_and_type(dispatcher, bot, alice, "okx", "55667788")
    await confirm(dispatcher, bot, alice, "okx")
    press = DisputeCB(exchange_id="okx", uid="55667788").pack()
    # The holder pressing an old button of someone else's, or a UID nobody holds.
    assert "already linked to your account" in await send(dispatcher, bot,
                                                         callback_update(alice, press))
    free = DisputeCB(exchange_id="okx", uid="10101010").pack()
    assert "not linked to another account" in await send(dispatcher, bot,
                                                        callback_update(bob, free))
    # No admin chat configured: the claimant is sent to support instead of a dead end.
    monkeypatch.setitem(dispatcher.workflow_data, "admin_chat_id", None)
    text = await send(dispatcher, bot, callback_update(bob, press))
    assert "cannot take claims" in text and "support" in text
    assert await Notification.filter(kind="uid_dispute").count() == 0


async def test_taken_between_typing_and_confirm(
    db: str, dispatcher: Dispatcher, bot: MockedBot, people: tuple[Any, Any],
    with_admin_chat: int,
) -> None:
    alice, bob = people
    for person in people:
        await send(dispatcher, bot, message_update(person, "/start"))
    await pick_and_type(dispatcher, bot, bob, "mexc", "98765432")  # free when typed
    await pick_and_type(dispatcher, bot, alice, "mexc", "98765432")
    assert "is linked" in await confirm(dispatcher, bot, alice, "mexc")
    text = await confirm(dispatcher, bot, bob, "mexc")  # the database decides the race
    assert "already linked to another account" in text
    assert "🙋 This UID is mine" in [b.text for b in buttons(bot)]


async def test_linked_uid_is_checked_at_once_or_the_trader_told_when(
    db: str, dispatcher: Dispatcher, bot: MockedBot, people: tuple[Any, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice, _ = people
    arq = RecordingArq()
    monkeypatch.setitem(dispatcher.workflow_data, "arq", arq)
    await send(dispatcher, bot, message_update(alice, "/start"))
    await pick_and_type(dispatcher, bot, alice, "okx", "12312312")
    text = await confirm(dispatcher, bot, alice, "okx")
    assert "asking OKX now" in text
    account = await ExchangeAccount.get(uid="12312312")
    assert [(name, args) for name, args, _ in arq.jobs] == [("check_new_uid", (account.id,))]

    # Binance reports arrive as files: no job, the rejection day said at once, in words.
    await pick_and_type(dispatcher, bot, alice, "binance", "123456789")
    text = await confirm(dispatcher, bot, alice, "binance")
    assert "import the next one" in text
    linked = await ExchangeAccount.get(uid="123456789")
    deadline = linked.created_at + timedelta(hours=72)
    assert f"{deadline:%H:%M} UTC" in text and deadline.strftime("%B") in text
    assert len(arq.jobs) == 1
