"""Fixtures for outbox delivery: the Telegram stub with a few people and a group, a real aiogram
Bot pointed at it, traders in the database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from sandbox.telegram import StubState, run_stub
from services.models import User

ALICE = 7001  # Telegram says English; chose Russian in Settings
BORIS = 7002  # Telegram says Russian; chose nothing
CAROL = 7003  # Telegram says German (not supported): the default
ADMIN_GROUP = -1007000
MANY = range(7100, 7110)  # ten more traders for the concurrency test


@pytest.fixture
def stub_state() -> StubState:
    state = StubState()
    state.add_user(ALICE, "Alice", "alice", "en")
    state.add_user(BORIS, "Boris", "boris", "ru")
    state.add_user(CAROL, "Carol", "carol", "de")
    for user_id in MANY:
        state.add_user(user_id, f"Trader {user_id}", None, "en")
    state.add_group(ADMIN_GROUP, "Admins", admins=[ALICE])
    return state


@pytest.fixture
async def stub_url(stub_state: StubState) -> AsyncIterator[str]:
    async with run_stub(stub_state) as url:
        yield url


@pytest.fixture
async def tg_bot(stub_url: str, stub_state: StubState) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(stub_url))
    bot = Bot(stub_state.token, session=session,
              default=DefaultBotProperties(parse_mode="HTML"))
    yield bot
    await bot.session.close()


@pytest.fixture
async def traders(db: str) -> None:
    await User.create(id=ALICE, first_name="Alice", telegram_language="en", locale="ru")
    await User.create(id=BORIS, first_name="Boris", telegram_language="ru")
    await User.create(id=CAROL, first_name="Carol", telegram_language="de")
    for user_id in MANY:
        await User.create(id=user_id, first_name="Trader", telegram_language="en")
