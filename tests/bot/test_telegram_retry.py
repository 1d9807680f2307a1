"""A Bot API call that meets a 429 is sent again after Telegram's retry_after, within bounds;
the outbox's Bot does not wait (it reschedules the notification itself)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage, TelegramMethod

from bot.app import create_bot
from bot.settings import Settings, load_settings
from bot.telegram_retry import RetryAfterMiddleware
from sandbox.telegram import StubState, run_stub
from tests.support.mocked_bot import MockedBot

ALICE = 7501


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class FakeTelegram:
    """``make_request`` that answers 429 with the given retry_afters, then succeeds."""

    def __init__(self, *retry_afters: int) -> None:
        self.retry_afters = list(retry_afters)
        self.calls = 0

    async def __call__(self, bot: Bot, method: TelegramMethod[Any]) -> Any:
        self.calls += 1
        if self.retry_afters:
            raise TelegramRetryAfter(method, "Too Many Requests", self.retry_afters.pop(0))
        return "sent"


METHOD = SendMessage(chat_id=ALICE, text="hi")


async def test_a_429_is_retried_after_retry_after() -> None:
    sleeps = Sleeps()
    middleware = RetryAfterMiddleware(sleep=sleeps)
    telegram = FakeTelegram(2)
    assert await middleware(telegram, MockedBot(), METHOD) == "sent"  # type: ignore[arg-type, comparison-overlap]
    assert telegram.calls == 2
    assert len(sleeps.waits) == 1 and 2 <= sleeps.waits[0] <= 3


async def test_a_retry_after_beyond_the_budget_reaches_the_caller() -> None:
    sleeps = Sleeps()
    telegram = FakeTelegram(31)
    with pytest.raises(TelegramRetryAfter) as caught:
        await RetryAfterMiddleware(sleep=sleeps)(telegram, MockedBot(), METHOD)  # type: ignore[arg-type]
    assert caught.value.retry_after == 31
    assert telegram.calls == 1 and sleeps.waits == []


async def test_the_total_wait_is_bounded() -> None:
    sleeps = Sleeps()
    telegram = FakeTelegram(10, 10, 10, 10)
    with pytest.raises(TelegramRetryAfter):
        await RetryAfterMiddleware(sleep=sleeps)(telegram, MockedBot(), METHOD)  # type: ignore[arg-type]
    # 10.5 + 10.5 s waited; another 10.5 would pass 30 s.
    assert telegram.calls == 3 and len(sleeps.waits) == 2
    assert sum(sleeps.waits) <= 30


async def test_the_retries_are_bounded() -> None:
    sleeps = Sleeps()
    telegram = FakeTelegram(1, 1, 1, 1, 1)
    with pytest.raises(TelegramRetryAfter):
        await RetryAfterMiddleware(sleep=sleeps)(telegram, MockedBot(), METHOD)  # type: ignore[arg-type]
    assert telegram.calls == 4 and len(sleeps.waits) == 3  # the first try and three retries


@pytest.fixture
def stub_state() -> StubState:
    state = StubState()
    state.add_user(ALICE, "Alice", "alice", "en")
    return state


@pytest.fixture
async def stub_settings(stub_state: StubState, tmp_path: Path) -> AsyncIterator[Settings]:
    async with run_stub(stub_state) as url:
        yield load_settings({"BOT_TOKEN": stub_state.token, "TELEGRAM_API_URL": url,
                             "SECRET_KEY": "k", "DATA_DIR": str(tmp_path)})


async def test_the_bot_retries_a_429_from_the_bot_api(
    stub_settings: Settings, stub_state: StubState
) -> None:
    bot = create_bot(stub_settings)
    (middleware,) = [m for m in bot.session.middleware if isinstance(m, RetryAfterMiddleware)]
    sleeps = Sleeps()
    middleware._sleep = sleeps
    stub_state.fail_next(1, method="sendMessage", chat_id=ALICE, retry_after=3)
    try:
        message = await bot.send_message(ALICE, "hello")
    finally:
        await bot.session.close()
    assert message.text == "hello"
    assert [call.status for call in stub_state.calls_to("sendMessage")] == [429, 200]
    assert len(sleeps.waits) == 1 and 3 <= sleeps.waits[0] <= 4
    assert [m.text for m in stub_state.bot_messages(ALICE)] == ["hello"]


async def test_the_outbox_bot_does_not_wait(
    stub_settings: Settings, stub_state: StubState
) -> None:
    bot = create_bot(stub_settings, retry_after_429=False)
    assert not [m for m in bot.session.middleware if isinstance(m, RetryAfterMiddleware)]
    stub_state.fail_next(1, method="sendMessage", chat_id=ALICE, retry_after=3)
    try:
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(ALICE, "hello")
    finally:
        await bot.session.close()
