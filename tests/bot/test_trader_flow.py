"""The trader's first minutes through the real Dispatcher, middlewares, Redis FSM and
PostgreSQL, with a mocked bot session."""

from __future__ import annotations

import itertools

import pytest
from aiogram import Dispatcher

from handlers.callbacks import (
    ExchangeAction,
    ExchangeCB,
    LanguageCB,
    LinkAction,
    LinkCB,
    MenuCB,
    Screen,
)
from services.models import AccountStatus, Event, ExchangeAccount, SignupSource, User
from tests.support.mocked_bot import MockedBot
from tests.support.updates import callback_update, message_update, tg_user

_user_ids = itertools.count(10_000)


@pytest.fixture
def alice():  # type: ignore[no-untyped-def]
    return tg_user(next(_user_ids), "en", "Alice")


async def send(dp: Dispatcher, bot: MockedBot, update) -> str:  # type: ignore[no-untyped-def]
    bot.session.clear()
    await dp.feed_update(bot, update)
    await dp["events"].flush()  # analytics events are written in batches
    return "\n".join(bot.session.texts())


def buttons(bot: MockedBot) -> list[str]:
    with_markup = [c for c in bot.session.calls if getattr(c, "reply_markup", None)]
    markup = with_markup[-1].reply_markup  # type: ignore[attr-defined]
    return [b.text for row in markup.inline_keyboard for b in row]


async def test_start_registers_once_with_source(db, dispatcher, bot, alice) -> None:
    text = await send(dispatcher, bot, message_update(alice, "/start src-inf_cryptoguru"))
    assert "Welcome, Alice!" in text
    assert "We never ask for your API keys" in text
    assert "💱 Exchanges & links" in buttons(bot)
    assert "💸 Withdraw" in buttons(bot)
    user = await User.get(id=alice.id)
    assert user.signup_source == SignupSource.INFLUENCER
    assert user.signup_code == "inf_cryptoguru"
    assert user.telegram_language == "en"

    text = await send(dispatcher, bot, message_update(alice, "/start src-ch_news"))
    assert "Welcome back, Alice!" in text
    user = await User.get(id=alice.id)
    assert user.signup_source == SignupSource.INFLUENCER  # the first source stays
    assert await Event.filter(name="signup", user_id=alice.id).count() == 1
    assert await Event.filter(name="command_start", user_id=alice.id).count() == 2


async def test_start_without_payload_is_organic(db, dispatcher, bot, alice) -> None:
    await send(dispatcher, bot, message_update(alice, "/start"))
    user = await User.get(id=alice.id)
    assert user.signup_source == SignupSource.ORGANIC and user.signup_code is None


async def test_russian_from_telegram_language(db, dispatcher, bot) -> None:
    boris = tg_user(next(_user_ids), "ru", "Борис")
    text = await send(dispatcher, bot, message_update(boris, "/start"))
    assert "Добро пожаловать, Борис!" in text
    assert "💱 Биржи и ссылки" in buttons(bot)


async def test_exchanges_card_and_existing_account(db, dispatcher, bot, alice) -> None:
    await send(dispatcher, bot, message_update(alice, "/start"))
    exchanges_menu = MenuCB(screen=Screen.EXCHANGES).pack()
    text = await send(dispatcher, bot, callback_update(alice, exchanges_menu))
    assert "Exchanges & links" in text
    labels = buttons(bot)
    assert len([label for label in labels if "%" in label]) == 11
    assert "Bybit · 60%" in labels

    card = ExchangeCB(action=ExchangeAction.CARD, exchange_id="bybit").pack()
    text = await send(dispatcher, bot, callback_update(alice, card))
    assert "Your rebate: <b>60%</b>" in text
    assert "http://127.0.0.1:8080/r/bybit-" in text
    assert await Event.filter(name="exchange_viewed", user_id=alice.id).count() == 1

    have = ExchangeCB(action=ExchangeAction.EXISTING, exchange_id="bybit").pack()
    text = await send(dispatcher, bot, callback_update(alice, have))
    assert "Already have a Bybit account?" in text and "KYC transfer" in text


async def test_link_uid_flow(db, dispatcher, bot, alice) -> None:
    await send(dispatcher, bot, message_update(alice, "/start"))
    start = LinkCB(action=LinkAction.START).pack()
    text = await send(dispatcher, bot, callback_update(alice, start))
    assert "On which exchange" in text
    pick = LinkCB(action=LinkAction.PICK, exchange_id="okx").pack()
    text = await send(dispatcher, bot, callback_update(alice, pick))
    assert "Send your <b>OKX</b> UID" in text

    text = await send(dispatcher, bot, message_update(alice, "12ab"))
    assert "digits only" in text
    text = await send(dispatcher, bot, message_update(alice, "123"))
    assert "too short" in text
    text = await send(dispatcher, bot, message_update(alice, "UID: 55667788"))
    assert "Link UID <code>55667788</code> on <b>OKX</b>?" in text

    confirm = LinkCB(action=LinkAction.CONFIRM, exchange_id="okx").pack()
    text = await send(dispatcher, bot, callback_update(alice, confirm))
    assert "is linked" in text and "pending" in text
    account = await ExchangeAccount.get(uid="55667788", exchange_id="okx")
    assert account.status == AccountStatus.PENDING and account.user_id == alice.id

    # A second press of the same confirm button does not link twice.
    text = await send(dispatcher, bot, callback_update(alice, confirm))
    assert "expired" in text
    assert await ExchangeAccount.filter(uid="55667788").count() == 1

    accounts_menu = MenuCB(screen=Screen.ACCOUNTS).pack()
    text = await send(dispatcher, bot, callback_update(alice, accounts_menu))
    assert "OKX: <code>55667788</code> — ⏳ pending check" in text


async def link(dp, bot, user, exchange_id: str, uid: str) -> str:  # type: ignore[no-untyped-def]
    await send(dp, bot, callback_update(user, LinkCB(action=LinkAction.PICK,
                                                     exchange_id=exchange_id).pack()))
    await send(dp, bot, message_update(user, uid))
    return await send(dp, bot, callback_update(user, LinkCB(action=LinkAction.CONFIRM,
                                                            exchange_id=exchange_id).pack()))


async def enter_uid(dp, bot, user, exchange_id: str, uid: str) -> str:  # type: ignore[no-untyped-def]
    await send(dp, bot, callback_update(user, LinkCB(action=LinkAction.PICK,
                                                     exchange_id=exchange_id).pack()))
    return await send(dp, bot, message_update(user, uid))


async def test_uid_taken_by_another_trader_and_several_per_exchange(
    db, dispatcher, bot, alice
) -> None:
    bob = tg_user(next(_user_ids), "en", "Bob")
    for person in (alice, bob):
        await send(dispatcher, bot, message_update(person, "/start"))
    assert "is linked" in await link(dispatcher, bot, alice, "bybit", "11223344")
    # Refused as soon as the UID is typed (tests/bot/test_uid_taken.py has the details).
    assert "already linked to another account" in await enter_uid(dispatcher, bot, bob, "bybit",
                                                                  "11223344")
    assert "You have already linked" in await enter_uid(dispatcher, bot, alice, "bybit",
                                                        "11223344")
    assert "is linked" in await link(dispatcher, bot, alice, "bybit", "99887766")
    assert await ExchangeAccount.filter(user_id=alice.id, exchange_id="bybit").count() == 2
    assert await ExchangeAccount.filter(user_id=bob.id).count() == 0


async def test_cancel_leaves_the_flow(db, dispatcher, bot, alice) -> None:
    await send(dispatcher, bot, message_update(alice, "/start"))
    await send(dispatcher, bot, callback_update(alice, LinkCB(action=LinkAction.PICK,
                                                              exchange_id="mexc").pack()))
    text = await send(dispatcher, bot, message_update(alice, "/cancel"))
    assert "Cancelled" in text
    # After cancelling, a number is no longer taken as a UID.
    text = await send(dispatcher, bot, message_update(alice, "12345678"))
    assert "did not understand" in text
    assert await ExchangeAccount.filter(user_id=alice.id).count() == 0
    text = await send(dispatcher, bot, message_update(alice, "/cancel"))
    assert "nothing to cancel" in text


async def test_language_change(db, dispatcher, bot, alice) -> None:
    await send(dispatcher, bot, message_update(alice, "/start"))
    text = await send(dispatcher, bot, callback_update(alice, LanguageCB(locale="ru").pack()))
    assert "Сохранено" in text
    assert (await User.get(id=alice.id)).locale == "ru"
    text = await send(dispatcher, bot, callback_update(alice, MenuCB(screen=Screen.MAIN).pack()))
    assert "Главное меню" in text


async def test_message_before_start_registers_organic(db, dispatcher, bot, alice) -> None:
    text = await send(dispatcher, bot, message_update(alice, "hello"))
    assert "did not understand" in text
    assert (await User.get(id=alice.id)).signup_source == SignupSource.ORGANIC


async def test_balance_is_an_explained_empty_state(db, dispatcher, bot, alice) -> None:
    await send(dispatcher, bot, message_update(alice, "/start"))
    balance = MenuCB(screen=Screen.BALANCE).pack()
    text = await send(dispatcher, bot, callback_update(alice, balance))
    assert "no earnings yet" in text


async def test_a_disabled_exchange_is_not_offered(db, dispatcher, bot, alice, services) -> None:  # type: ignore[no-untyped-def]
    from services.models import Exchange

    await send(dispatcher, bot, message_update(alice, "/start"))
    await Exchange.filter(id="okx").update(enabled=False)
    services.exchanges.forget_cache()  # an operator's change; other processes see it in 10 s
    card = ExchangeCB(action=ExchangeAction.CARD, exchange_id="okx").pack()
    assert "not available" in await send(dispatcher, bot, callback_update(alice, card))
    pick = LinkCB(action=LinkAction.PICK, exchange_id="okx").pack()
    assert "not available" in await send(dispatcher, bot, callback_update(alice, pick))
    listing = await send(dispatcher, bot,
                         callback_update(alice, MenuCB(screen=Screen.EXCHANGES).pack()))
    assert "Exchanges & links" in listing
    assert "OKX" not in " ".join(buttons(bot))
