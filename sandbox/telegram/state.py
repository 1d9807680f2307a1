"""The stub's whole world: bot identity, users, chats, message logs, updates, files, calls.

Everything is synchronous and in memory so tests can poke it directly; the HTTP layer in
``bot_api``/``user_api`` is a thin translation on top.
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

from . import markup
from .models import (
    CallbackQueryRecord,
    CallRecord,
    ChatType,
    FaultRule,
    LoggedMessage,
    StoredFile,
    StubChat,
    StubUser,
    WebhookConfig,
    bad_request,
)
from .ratelimit import RateLimits
from .serialize import message_json
from .signals import Signal

DEFAULT_TOKEN = "123456789:AAStubStubStubStubStubStubStubStub01"
_CHAT_ACTION_TTL = 5.0  # Telegram shows "typing…" for about five seconds


class StubState:
    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "cryptorebate_stub_bot",
        bot_first_name: str = "CryptoRebate",
        webhook_retry_delay: float = 0.5,
    ) -> None:
        bot_id = token.split(":", 1)[0]
        if not bot_id.isdigit():
            raise ValueError("token must look like '<digits>:<secret>'")
        self.token = token
        self.bot = StubUser(int(bot_id), bot_first_name, bot_username, is_bot=True)
        self.users: dict[int, StubUser] = {}
        self.chats: dict[int, StubChat] = {}
        self.logs: dict[int, list[LoggedMessage]] = {}
        self.updates: list[dict[str, Any]] = []
        self.allowed_updates: list[str] | None = None
        self.webhook: WebhookConfig | None = None
        self.webhook_retry_delay = webhook_retry_delay
        self.files: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.calls: list[CallRecord] = []
        self.faults: list[FaultRule] = []
        self.rate_limits: RateLimits | None = None
        self.commands: dict[str, list[dict[str, Any]]] = {}  # scope/lang key -> commands
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.bot_settings: dict[str, Any] = {}  # setMyDescription & co, stored verbatim
        self.chat_actions: dict[int, tuple[str, float]] = {}
        self.closing = False  # set on server shutdown so long polls return at once
        self.version = 0  # bumped on every message create/edit/delete
        self.changed = Signal()  # message log changed
        self.update_arrived = Signal()  # an update was queued
        self.callback_answered = Signal()
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._query_ids = itertools.count(1)
        self._file_seq = itertools.count(1)

    # ----- declaring the world -------------------------------------------------------
    def add_user(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = None,
        *,
        last_name: str | None = None,
    ) -> StubUser:
        """Declare a person; their private chat with the bot (id == user id) exists too."""
        user = StubUser(user_id, first_name, username, language_code, last_name)
        self.users[user_id] = user
        self.chats[user_id] = StubChat(user_id, "private", user=user, members={user_id})
        self.logs.setdefault(user_id, [])
        return user

    def add_group(
        self,
        chat_id: int,
        title: str,
        members: list[int] | tuple[int, ...] | set[int] = (),
        *,
        admins: list[int] | tuple[int, ...] | set[int] = (),
        type: ChatType = "supergroup",  # noqa: A002 - Telegram's field name
    ) -> StubChat:
        """Declare a group the bot is in; ``admins`` are also members."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative in Telegram")
        chat = StubChat(
            chat_id, type, title, members=set(members) | set(admins), admins=set(admins)
        )
        self.chats[chat_id] = chat
        self.logs.setdefault(chat_id, [])
        return chat

    def block_bot(self, user_id: int, blocked: bool = True) -> None:
        """The user blocks the bot: sends to their private chat get 403 from now on."""
        self.user(user_id).blocked_bot = blocked

    def user(self, user_id: int) -> StubUser:
        if user_id not in self.users:
            raise bad_request(f"unknown user {user_id}; declare it with add_user first")
        return self.users[user_id]

    def chat(self, chat_id: int) -> StubChat:
        if chat_id not in self.chats:
            raise bad_request("chat not found")
        return self.chats[chat_id]

    # ----- failure injection -----------------------------------------------------------
    def fail_next(
        self,
        count: int = 1,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        retry_after: int = 1,
        error_code: int = 429,
        description: str | None = None,
    ) -> FaultRule:
        """Answer the next ``count`` matching bot calls with 429 (or ``error_code``)."""
        rule = FaultRule(
            count,
            method.lower() if method else None,
            chat_id,
            error_code,
            description,
            retry_after,
        )
        self.faults.append(rule)
        return rule

    def clear_faults(self) -> None:
        self.faults.clear()

    def enable_rate_limits(self, limits: RateLimits | None = None) -> RateLimits:
        """Turn on Telegram-like flood limits for sending methods (see RateLimits)."""
        self.rate_limits = limits or RateLimits()
        return self.rate_limits

    def check_faults(self, method: str, chat_id: int | None) -> None:
        """Raise the injected or rate-limit error for this call, if any."""
        for rule in self.faults:
            if rule.matches(method, chat_id):
                rule.remaining -= 1
                raise rule.to_error()
        self.faults = [rule for rule in self.faults if rule.remaining > 0]
        if self.rate_limits is not None:
            chat = self.chats.get(chat_id) if chat_id is not None else None
            is_group = chat is not None and chat.type != "private"
            self.rate_limits.check(method, chat_id, is_group, time.monotonic())

    def record_call(self, method: str, params: dict[str, Any], via: str = "http") -> CallRecord:
        record = CallRecord(method, params, time.monotonic(), time.time(), via=via)
        self.calls.append(record)
        return record

    def calls_to(self, method: str) -> list[CallRecord]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    # ----- message log -----------------------------------------------------------------
    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def touch(self, message: LoggedMessage) -> None:
        """Mark a message as changed so pollers (page, tests) see it."""
        self.version += 1
        message.version = self.version
        self.changed.fire()

    def append_message(self, message: LoggedMessage) -> LoggedMessage:
        message.message_id = self._next_message_id(message.chat_id)
        self.logs.setdefault(message.chat_id, []).append(message)
        self.touch(message)
        return message

    def find_message(self, chat_id: int, message_id: int) -> LoggedMessage | None:
        for message in self.logs.get(chat_id, []):
            if message.message_id == message_id and not message.deleted:
                return message
        return None

    def messages(
        self, chat_id: int, *, after: int = 0, include_deleted: bool = False
    ) -> list[LoggedMessage]:
        """Messages of a chat changed after cursor ``after`` (0 = all), oldest first."""
        return [
            m
            for m in self.logs.get(chat_id, [])
            if m.version > after and (include_deleted or not m.deleted)
        ]

    def bot_messages(self, chat_id: int) -> list[LoggedMessage]:
        return [m for m in self.messages(chat_id) if m.from_bot]

    def last_bot_message(self, chat_id: int) -> LoggedMessage | None:
        found = self.bot_messages(chat_id)
        return found[-1] if found else None

    def set_chat_action(self, chat_id: int, action: str) -> None:
        self.chat_actions[chat_id] = (action, time.monotonic())
        self.changed.fire()

    def current_chat_action(self, chat_id: int) -> str | None:
        action, at = self.chat_actions.get(chat_id, ("", 0.0))
        return action if action and time.monotonic() - at < _CHAT_ACTION_TTL else None

    # ----- updates ---------------------------------------------------------------------
    def enqueue_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Queue an update unless the bot excluded its type via ``allowed_updates``."""
        allowed = self.webhook.allowed_updates if self.webhook else self.allowed_updates
        if allowed and kind not in allowed:
            return None
        update = {"update_id": next(self._update_ids), kind: payload}
        self.updates.append(update)
        self.update_arrived.fire()
        return update

    def confirm_updates(self, offset: int) -> None:
        """getUpdates ``offset`` semantics: forget every update with a smaller id."""
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]

    # ----- files -----------------------------------------------------------------------
    def store_file(
        self,
        content: bytes,
        file_name: str | None = None,
        mime_type: str | None = None,
        *,
        folder: str = "documents",
    ) -> StoredFile:
        n = next(self._file_seq)
        suffix = (file_name or "").rsplit(".", 1)[-1] if "." in (file_name or "") else "bin"
        stored = StoredFile(
            file_id=f"BQACAgI{uuid.uuid4().hex}",
            file_unique_id=f"AgAD{n:06d}",
            file_path=f"{folder}/file_{n}.{suffix}",
            content=content,
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        return stored

    def file_by_path(self, path: str) -> StoredFile | None:
        return next((f for f in self.files.values() if f.file_path == path), None)

    # ----- what a person does ----------------------------------------------------------
    def _member(self, chat_id: int, from_id: int) -> tuple[StubChat, StubUser]:
        user = self.user(from_id)
        chat = self.chat(chat_id)
        if from_id not in chat.members:
            raise bad_request(f"user {from_id} is not a member of chat {chat_id}")
        return chat, user

    def user_sends(self, chat_id: int, from_id: int, text: str) -> LoggedMessage:
        """A person types ``text``; queues a ``message`` update with bot_command entities."""
        chat, user = self._member(chat_id, from_id)
        if not text.strip():
            raise bad_request("message text is empty")
        if markup.utf16_len(text) > markup.MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        message = self.append_message(
            LoggedMessage(
                chat.id,
                0,
                False,
                user.id,
                int(time.time()),
                text=text,
                entities=markup.command_entities(text),
            )
        )
        self.enqueue_update("message", message_json(self, message))
        return message

    def user_uploads(
        self,
        chat_id: int,
        from_id: int,
        file_name: str,
        content: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> LoggedMessage:
        """A person sends a file as a document (caption optional)."""
        chat, user = self._member(chat_id, from_id)
        stored = self.store_file(content, file_name, mime_type)
        message = self.append_message(
            LoggedMessage(
                chat.id,
                0,
                False,
                user.id,
                int(time.time()),
                caption=caption or None,
                document=stored.document_json(),
            )
        )
        self.enqueue_update("message", message_json(self, message))
        return message

    def user_presses(
        self, chat_id: int, from_id: int, message_id: int, data: str
    ) -> CallbackQueryRecord:
        """A person presses a callback button; the button must be on that bot message."""
        _, user = self._member(chat_id, from_id)
        message = self.find_message(chat_id, message_id)
        if message is None or not message.from_bot:
            raise bad_request(f"no bot message {message_id} in chat {chat_id}")
        if not any(b.get("callback_data") == data for b in message.buttons):
            raise bad_request(f"message {message_id} has no button with callback_data {data!r}")
        query = CallbackQueryRecord(
            id=f"{self.bot.id}{next(self._query_ids):010d}",
            chat_id=chat_id,
            message_id=message_id,
            from_id=from_id,
            data=data,
            created=time.monotonic(),
        )
        self.callback_queries[query.id] = query
        self.enqueue_update(
            "callback_query",
            {
                "id": query.id,
                "from": user.to_api(),
                "message": message_json(self, message),
                "chat_instance": str(abs(hash((self.bot.id, chat_id)))),
                "data": data,
            },
        )
        return query
