"""Fixtures for the Telegram stub's own tests: a stub, a real aiogram Bot pointed at it,
and a tiny Dispatcher (echo + /start + one callback) running in long-polling mode."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.methods import SendMessage
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    WebAppInfo,
)

from sandbox.telegram import StubClient, StubState, run_stub

ALICE = 501
BOB = 502
GROUP = -100500


@pytest.fixture
def stub_state() -> StubState:
    state = StubState(webhook_retry_delay=0.05)
    state.add_user(ALICE, "Alice", "alice", "en")
    state.add_user(BOB, "Bob", "bob", "ru")
    state.add_group(GROUP, "Admins", members=[BOB], admins=[ALICE])
    return state


@pytest.fixture
async def stub_url(stub_state: StubState) -> AsyncIterator[str]:
    async with run_stub(stub_state) as url:
        yield url


@pytest.fixture
async def stub_client(stub_url: str) -> AsyncIterator[StubClient]:
    async with StubClient(stub_url) as client:
        yield client


def make_bot(url: str, token: str) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(url))
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode="HTML"))


@pytest.fixture
async def stub_bot(stub_url: str, stub_state: StubState) -> AsyncIterator[Bot]:
    bot = make_bot(stub_url, stub_state.token)
    yield bot
    await bot.session.close()


def make_router() -> Router:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        assert message.from_user is not None
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text="Ping", callback_data="ping")],
                [
                    InlineKeyboardButton(text="Docs", url="https://example.com/docs"),
                    InlineKeyboardButton(
                        text="App", web_app=WebAppInfo(url="https://example.com/app")
                    ),
                ],
            ]
        )
        await message.answer(
            f"Hello <b>{message.from_user.first_name}</b>, payload={command.args}",
            reply_markup=keyboard,
        )

    @router.message(Command("respond"))
    async def respond(message: Message) -> SendMessage:
        # Returning the method lets a webhook carry it back in the HTTP response.
        return message.answer("sent via the webhook response")

    @router.callback_query(F.data == "ping")
    async def ping(callback: CallbackQuery) -> None:
        await callback.answer("pong")
        assert isinstance(callback.message, Message)
        await callback.message.edit_text("Pressed <i>ping</i>")

    @router.message(F.document)
    async def got_document(message: Message, bot: Bot) -> None:
        assert message.document is not None
        data = await bot.download(message.document)
        assert data is not None
        await message.answer(f"got {message.document.file_name}: {data.read().decode()}")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.html_text}")

    return router


@pytest.fixture
async def polling_bot(stub_bot: Bot) -> AsyncIterator[Bot]:
    """The real Dispatcher polling the stub until the test ends."""
    dispatcher = Dispatcher()
    dispatcher.include_router(make_router())
    task = asyncio.create_task(
        dispatcher.start_polling(
            stub_bot, handle_signals=False, close_bot_session=False, polling_timeout=1
        )
    )
    yield stub_bot
    with contextlib.suppress(RuntimeError):  # polling may not have started yet
        await dispatcher.stop_polling()
    await asyncio.wait_for(task, timeout=5)
