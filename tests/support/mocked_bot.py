"""A Bot whose session answers every call locally and records it (aiogram's tests/mocked_bot.py
pattern, but answering by method instead of from a queue, so handlers can run unscripted)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, InlineKeyboardMarkup, Message, User

BOT_USER = User(id=42, is_bot=True, first_name="CryptoRebate", username="cryptorebate_bot")


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod[Any]] = []
        self.sent: list[Message] = []  # what the sends and edits returned (their message ids)
        self._message_ids = itertools.count(1000)

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None  # noqa: ASYNC109
    ) -> TelegramType:
        self.calls.append(method)
        name = type(method).__name__
        if name in ("SendMessage", "EditMessageText"):
            chat_id = getattr(method, "chat_id", None) or 0
            sent = Message(
                message_id=getattr(method, "message_id", None) or next(self._message_ids),
                date=datetime.now(UTC),
                chat=Chat(id=int(chat_id), type="private"),
                from_user=BOT_USER,
                text=method.text,  # type: ignore[attr-defined]
                # A message carries an inline keyboard only (ForceReply is a request to clients).
                reply_markup=markup if isinstance(
                    markup := getattr(method, "reply_markup", None), InlineKeyboardMarkup)
                else None,
            )
            self.sent.append(sent)
            return sent  # type: ignore[return-value]
        if name == "GetMe":
            return BOT_USER  # type: ignore[return-value]
        return True  # type: ignore[return-value]

    async def close(self) -> None:
        return None

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        yield b""

    def texts(self) -> list[str]:
        shown = ("SendMessage", "EditMessageText", "AnswerCallbackQuery")
        return [getattr(call, "text", "") or "" for call in self.calls
                if type(call).__name__ in shown]

    def clear(self) -> None:
        self.calls.clear()
        self.sent.clear()


class MockedBot(Bot):
    session: RecordingSession

    def __init__(self) -> None:
        super().__init__("42:TEST", session=RecordingSession(),
                         default=DefaultBotProperties(parse_mode=ParseMode.HTML))
        self._me = BOT_USER
