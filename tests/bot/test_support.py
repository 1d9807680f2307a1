"""Support: /support and Help show the contact (SUPPORT_CONTACT, in handler data as
``support_contact``) with a button to it, or say plainly that there is none yet; the messages
that send a trader to support (blocked, UID taken) name it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from aiogram import Dispatcher
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import InlineKeyboardMarkup

from handlers.callbacks import LinkAction, LinkCB, MenuCB, Screen
from services.models import AccountStatus, ExchangeAccount, User
from tests.support.mocked_bot import MockedBot
from tests.support.updates import callback_update, message_update, tg_user

_user_ids = itertools.count(41_000)


@pytest.fixture
def support(dispatcher: Dispatcher) -> Iterator[Dispatcher]:
    """Tests set ``dispatcher.workflow_data["support_contact"]``; restored afterwards."""
    missing = object()
    before = dispatcher.workflow_data.get("support_contact", missing)
    yield dispatcher
    if before is missing:
        dispatcher.workflow_data.pop("support_contact", None)
    else:
        dispatcher.workflow_data["support_contact"] = before


async def send(dp: Dispatcher, bot: MockedBot, update) -> str:  # type: ignore[no-untyped-def]
    bot.session.clear()
    await dp.feed_update(bot, update)
    return "\n".join(bot.session.texts())


def url_buttons(bot: MockedBot) -> list[tuple[str, str]]:
    found = []
    for call in bot.session.calls:
        markup = getattr(call, "reply_markup", None)
        if isinstance(markup, InlineKeyboardMarkup):
            found += [(b.text, b.url) for row in markup.inline_keyboard for b in row if b.url]
    return found


async def test_support_shows_the_telegram_contact_with_a_button(
    db: str, support: Dispatcher, bot: MockedBot
) -> None:
    support.workflow_data["support_contact"] = "@cr_support"
    trader = tg_user(next(_user_ids), "en")
    await send(support, bot, message_update(trader, "/start"))
    text = await send(support, bot, message_update(trader, "/support"))
    assert "Write to us: @cr_support" in text
    assert f"<code>{trader.id}</code>" in text  # so support can look them up
    assert url_buttons(bot) == [("💬 Write to support", "https://t.me/cr_support")]

    russian = tg_user(next(_user_ids), "ru")
    text = await send(support, bot, message_update(russian, "/support"))  # before /start too
    assert "Напишите нам: @cr_support" in text


async def test_an_https_contact_is_escaped_in_the_text_and_opened_by_the_button(
    db: str, support: Dispatcher, bot: MockedBot
) -> None:
    support.workflow_data["support_contact"] = "https://help.example.com/?bot=cr&lang=en"
    trader = tg_user(next(_user_ids), "en")
    text = await send(support, bot, message_update(trader, "/support"))
    assert "https://help.example.com/?bot=cr&amp;lang=en" in text
    assert url_buttons(bot)[0][1] == "https://help.example.com/?bot=cr&lang=en"


async def test_without_a_contact_support_says_so_and_offers_no_button(
    db: str, support: Dispatcher, bot: MockedBot
) -> None:
    support.workflow_data["support_contact"] = None
    trader = tg_user(next(_user_ids), "en")
    await send(support, bot, message_update(trader, "/start"))
    text = await send(support, bot, message_update(trader, "/support"))
    assert "no support contact yet" in text and "not read by a person" in text
    assert url_buttons(bot) == []
    help_screen = callback_update(trader, MenuCB(screen=Screen.HELP).pack())
    help_text = await send(support, bot, help_screen)
    assert "<b>Support</b>: no contact yet" in help_text
    assert url_buttons(bot) == []


async def test_help_names_support_and_has_its_button(
    db: str, support: Dispatcher, bot: MockedBot
) -> None:
    support.workflow_data["support_contact"] = "@cr_support"
    trader = tg_user(next(_user_ids), "en")
    await send(support, bot, message_update(trader, "/start"))
    for update in (message_update(trader, "/help"),
                   callback_update(trader, MenuCB(screen=Screen.HELP).pack())):
        text = await send(support, bot, update)
        assert "<b>Support</b>: @cr_support" in text and "/support" in text
        assert ("💬 Write to support", "https://t.me/cr_support") in url_buttons(bot)


async def test_a_blocked_user_is_told_whom_to_write(
    db: str, support: Dispatcher, bot: MockedBot
) -> None:
    support.workflow_data["support_contact"] = "@cr_support"
    blocked = tg_user(next(_user_ids), "ru")
    await User.create(id=blocked.id, first_name="B", telegram_language="ru", is_banned=True)
    for said in ("/start", "hello"):
        text = await send(support, bot, message_update(blocked, said))
        assert text == ("Ваш аккаунт заблокирован. "
                        "Если это ошибка, напишите в поддержку: @cr_support")
        assert url_buttons(bot) == [("💬 Написать в поддержку", "https://t.me/cr_support")]
    # /support works for a blocked user: it is how they contest the block.
    assert "@cr_support" in await send(support, bot, message_update(blocked, "/support"))
    await send(support, bot, callback_update(blocked, MenuCB(screen=Screen.MAIN).pack()))
    (alert,) = [c for c in bot.session.calls if isinstance(c, AnswerCallbackQuery)]
    assert alert.show_alert and alert.text is not None and "@cr_support" in alert.text

    support.workflow_data["support_contact"] = None
    text = await send(support, bot, message_update(blocked, "/start"))
    assert "контакта поддержки пока нет" in text and "напишите в поддержку" not in text


async def test_a_taken_uid_names_support(db: str, support: Dispatcher, bot: MockedBot) -> None:
    support.workflow_data["support_contact"] = "@cr_support"
    owner, other = tg_user(next(_user_ids), "en"), tg_user(next(_user_ids), "en")
    await send(support, bot, message_update(owner, "/start"))
    await ExchangeAccount.create(user_id=owner.id, exchange_id="okx", uid="77700011",
                                 status=AccountStatus.PENDING)
    await send(support, bot, message_update(other, "/start"))
    await send(support, bot, callback_update(other, LinkCB(action=LinkAction.PICK,
                                                           exchange_id="okx").pack()))
    text = await send(support, bot, message_update(other, "77700011"))  # refused when typed
    assert "already linked to another account" in text
    assert "If it is yours, write to support: @cr_support" in text
    assert url_buttons(bot) == [("💬 Write to support", "https://t.me/cr_support")]
