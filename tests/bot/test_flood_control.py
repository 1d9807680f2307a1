"""Flood control through the real Dispatcher: a trader over the limit is told once per window,
then dropped in silence; operators are never limited."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from aiogram import Dispatcher
from aiogram.types import Chat
from prometheus_client import REGISTRY

from bot.settings import Settings
from handlers.callbacks import MenuCB, Screen
from handlers.middlewares import FloodControlMiddleware
from services.i18n import Catalog
from services.models import Role, User
from tests.support.mocked_bot import MockedBot
from tests.support.updates import callback_update, message_update, tg_user

LIMIT = 3
WINDOW = 60
_user_ids = itertools.count(31_000)


class Clock:
    """Stays inside one flood window until moved (a real clock may cross a window's edge)."""

    def __init__(self) -> None:
        self.now = 1_000_000 * WINDOW + 1.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    (flood,) = [m for m in dispatcher.update.outer_middleware
                if isinstance(m, FloodControlMiddleware)]
    the_clock = Clock()
    monkeypatch.setattr(flood, "limit", LIMIT)
    monkeypatch.setattr(flood, "window", WINDOW)
    monkeypatch.setattr(flood, "_clock", the_clock)
    yield the_clock


def dropped() -> float:
    return REGISTRY.get_sample_value("bot_updates_dropped_total", {"reason": "flood"}) or 0.0


def test_user_context_runs_before_flood_control(dispatcher: Dispatcher) -> None:
    names = [type(m).__name__ for m in dispatcher.update.outer_middleware]
    assert names.index("UserContextMiddleware") < names.index("FloodControlMiddleware")


async def test_a_trader_over_the_limit_is_told_once_then_dropped(
    db: str, dispatcher: Dispatcher, bot: MockedBot, clock: Clock, i18n: Catalog
) -> None:
    trader = tg_user(next(_user_ids), "ru")
    await User.create(id=trader.id, first_name="Trader", telegram_language="ru", locale="en")
    before = dropped()
    for _ in range(LIMIT):
        await dispatcher.feed_update(bot, message_update(trader, "/start"))
    assert len(bot.session.texts()) == LIMIT  # all answered
    bot.session.clear()

    for _ in range(4):
        await dispatcher.feed_update(bot, message_update(trader, "/start"))
    # One answer, in the language the trader chose (not Telegram's), then silence.
    assert bot.session.texts() == [i18n.translator("en")("common.flood")]
    assert type(bot.session.calls[0]).__name__ == "SendMessage"
    assert bot.session.calls[0].chat_id == trader.id  # type: ignore[attr-defined]
    assert dropped() - before == 4

    clock.now += WINDOW  # the next window: handled again
    bot.session.clear()
    await dispatcher.feed_update(bot, message_update(trader, "/start"))
    assert "Welcome back" in "\n".join(bot.session.texts())


async def test_an_unregistered_user_is_told_in_telegrams_language(
    db: str, dispatcher: Dispatcher, bot: MockedBot, clock: Clock, i18n: Catalog
) -> None:
    stranger = tg_user(next(_user_ids), "ru")
    for _ in range(LIMIT):
        await dispatcher.feed_update(bot, message_update(stranger, "hello"))
    bot.session.clear()
    for _ in range(3):
        await dispatcher.feed_update(bot, message_update(stranger, "hello"))
    assert bot.session.texts() == [i18n.translator("ru")("common.flood")]


async def test_a_button_press_over_the_limit_gets_a_toast(
    db: str, dispatcher: Dispatcher, bot: MockedBot, clock: Clock, i18n: Catalog
) -> None:
    trader = tg_user(next(_user_ids), "en")
    await User.create(id=trader.id, first_name="Trader", telegram_language="en")
    press = MenuCB(screen=Screen.MAIN).pack()
    for _ in range(LIMIT):
        await dispatcher.feed_update(bot, callback_update(trader, press))
    bot.session.clear()
    for _ in range(3):
        await dispatcher.feed_update(bot, callback_update(trader, press))
    toast, *quiet = bot.session.calls  # every press answered, only the first with words
    assert type(toast).__name__ == "AnswerCallbackQuery"
    assert toast.text == i18n.translator("en")("common.flood")  # type: ignore[attr-defined]
    assert not toast.show_alert  # type: ignore[attr-defined]
    assert [(type(c).__name__, c.text) for c in quiet] == [("AnswerCallbackQuery", None)] * 2  # type: ignore[attr-defined]


async def test_several_processes_tell_once_per_window(
    db: str, dispatcher: Dispatcher, bot: MockedBot, clock: Clock, i18n: Catalog,
    settings: Settings,
) -> None:
    """Another web process (its own middleware, the same Redis) sees the same window."""
    (flood,) = [m for m in dispatcher.update.outer_middleware
                if isinstance(m, FloodControlMiddleware)]
    other = FloodControlMiddleware(flood._redis, LIMIT, WINDOW, settings.redis_prefix,
                                   catalog=i18n, clock=clock)
    trader = tg_user(next(_user_ids), "en")
    handled: list[int] = []

    async def handler(event: object, data: dict[str, object]) -> None:
        handled.append(1)

    for _ in range(LIMIT):
        await dispatcher.feed_update(bot, message_update(trader, "hi"))
    bot.session.clear()
    await dispatcher.feed_update(bot, message_update(trader, "hi"))  # told here
    await other(handler, message_update(trader, "hi"), {"event_from_user": trader, "bot": bot})
    assert handled == []
    assert bot.session.texts() == [i18n.translator("en")("common.flood")]


@pytest.mark.parametrize("role", [Role.OPS, Role.ADMIN, Role.FINANCE, Role.VIEWER])
async def test_an_operator_is_never_limited(
    db: str, dispatcher: Dispatcher, bot: MockedBot, clock: Clock, settings: Settings,
    role: Role,
) -> None:
    operator = tg_user(next(_user_ids), "en")
    await User.create(id=operator.id, first_name="Olga", telegram_language="en", role=role)
    assert settings.admin_chat_id is not None
    admin_chat = Chat(id=settings.admin_chat_id, type="supergroup", title="Admins")
    before = dropped()
    for n in range(3 * LIMIT):
        bot.session.clear()
        if n % 2 or role not in (Role.ADMIN, Role.OPS):  # /status is theirs
            await dispatcher.feed_update(bot, message_update(operator, "/start"))
        else:
            await dispatcher.feed_update(bot, message_update(operator, "/status", admin_chat))
        assert bot.session.texts(), n  # every one answered
        assert i18n_flood_texts() & set(bot.session.texts()) == set()
    assert dropped() == before


async def test_a_bootstrap_admin_is_not_limited_before_registering(
    db: str, dispatcher: Dispatcher, bot: MockedBot, clock: Clock, settings: Settings,
) -> None:
    admin = tg_user(settings.admin_ids[0], "en")
    before = dropped()
    for _ in range(3 * LIMIT):
        await dispatcher.feed_update(bot, message_update(admin, "hello"))
    assert dropped() == before


async def test_a_banned_operator_is_limited(
    db: str, dispatcher: Dispatcher, bot: MockedBot, clock: Clock
) -> None:
    operator = tg_user(next(_user_ids), "en")
    await User.create(id=operator.id, first_name="Olga", role=Role.OPS, is_banned=True)
    before = dropped()
    for _ in range(LIMIT + 2):
        await dispatcher.feed_update(bot, message_update(operator, "hello"))
    assert dropped() - before == 2


def i18n_flood_texts() -> set[str]:
    catalog = Catalog.load()
    return {catalog.translator(locale)("common.flood") for locale in catalog.locales}
