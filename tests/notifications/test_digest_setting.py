"""The daily digest setting on the Settings screen (through the real Dispatcher)."""

from __future__ import annotations

from aiogram import Dispatcher

from handlers.callbacks import DigestCB, MenuCB, Screen
from services.models import DigestMode, User
from tests.support.mocked_bot import MockedBot
from tests.support.updates import callback_update, message_update, tg_user

TRADER = tg_user(7500, "en", "Dana")


async def send(dp: Dispatcher, bot: MockedBot, update) -> str:  # type: ignore[no-untyped-def]
    bot.session.clear()
    await dp.feed_update(bot, update)
    await dp["events"].flush()
    return "\n".join(bot.session.texts())


def buttons(bot: MockedBot) -> list[str]:
    with_markup = [c for c in bot.session.calls if getattr(c, "reply_markup", None)]
    markup = with_markup[-1].reply_markup  # type: ignore[attr-defined]
    return [b.text for row in markup.inline_keyboard for b in row]


async def test_digest_mode_is_on_by_default_and_can_be_changed(
    db: str, dispatcher: Dispatcher, bot: MockedBot
) -> None:
    await send(dispatcher, bot, message_update(TRADER, "/start"))
    assert (await User.get(id=TRADER.id)).digest_mode == DigestMode.ON
    text = await send(
        dispatcher, bot, callback_update(TRADER, MenuCB(screen=Screen.SETTINGS).pack())
    )
    assert "Daily rebate summary: 🔔 On" in text
    assert "✓ 🔔 On" in buttons(bot)

    text = await send(
        dispatcher, bot, callback_update(TRADER, DigestCB(mode=DigestMode.SILENT).pack())
    )
    assert "Daily rebate summary: 🔕 Silent" in text and "Saved." in text
    assert "✓ 🔕 Silent" in buttons(bot) and "🔔 On" in buttons(bot)
    assert (await User.get(id=TRADER.id)).digest_mode == DigestMode.SILENT
    # Reopened later (the user is loaded afresh by the middleware): still silent.
    await send(dispatcher, bot, callback_update(TRADER, MenuCB(screen=Screen.MAIN).pack()))
    text = await send(
        dispatcher, bot, callback_update(TRADER, MenuCB(screen=Screen.SETTINGS).pack())
    )
    assert "Daily rebate summary: 🔕 Silent" in text and "✓ 🔕 Silent" in buttons(bot)

    await send(dispatcher, bot, callback_update(TRADER, DigestCB(mode=DigestMode.OFF).pack()))
    assert (await User.get(id=TRADER.id)).digest_mode == DigestMode.OFF
