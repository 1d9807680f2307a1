"""Building Telegram updates the way Telegram sends them, for feeding the real Dispatcher."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from aiogram.types import (
    CallbackQuery,
    Chat,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
    User,
)

from tests.support.mocked_bot import BOT_USER

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


def tg_user(user_id: int, language: str = "en", first_name: str = "Alice") -> User:
    return User(id=user_id, is_bot=False, first_name=first_name, username=f"u{user_id}",
                language_code=language)


def message_update(user: User, text: str, chat: Chat | None = None) -> Update:
    entities = None
    if text.startswith("/"):
        command = text.split()[0]
        entities = [MessageEntity(type="bot_command", offset=0, length=len(command))]
    return Update(update_id=next(_update_ids), message=Message(
        message_id=next(_message_ids), date=datetime.now(UTC),
        chat=chat or Chat(id=user.id, type="private", first_name=user.first_name),
        from_user=user, text=text, entities=entities,
    ))


def callback_update(user: User, data: str, message_text: str = "…",
                    markup: InlineKeyboardMarkup | None = None,
                    chat: Chat | None = None) -> Update:
    message = Message(
        message_id=next(_message_ids), date=datetime.now(UTC),
        chat=chat or Chat(id=user.id, type="private", first_name=user.first_name),
        from_user=BOT_USER, text=message_text, reply_markup=markup,
    )
    return Update(update_id=next(_update_ids), callback_query=CallbackQuery(
        id=str(next(_update_ids)), from_user=user, chat_instance="ci", data=data, message=message,
    ))
