"""A large CSV's preview and import show their progress in one message, edited in place and
rate-limited, which ends with the result; a small file shows none. Through the production
Dispatcher, as tests/bot/test_csv_off_loop.py drives it.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.methods import EditMessageText, SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import CallbackQuery, Chat, Document, Message, Update

from bot.app import Services
from bot.settings import Settings
from handlers.admin import exchanges as admin_exchanges
from services.models import CommissionRecord
from services.users import TelegramProfile
from tests.bot.test_csv_off_loop import (  # noqa: F401 - arq: a fixture used by name
    ADMIN,
    FileSession,
    arq,
    big_generic_csv,
)
from tests.support.mocked_bot import BOT_USER, MockedBot
from tests.support.updates import tg_user

LARGE_BYTES = 2_000_000  # ~28,000 rows: progress from the start, parsed in the worker
SMALL_BYTES = 20_000
EDIT_EVERY = 0.1  # seconds: several edits within a test's few seconds
PERCENT = re.compile(r"⏳ (\w+) .*?(\d+)%")

_ids = itertools.count(7_000_000)


class TimedSession(FileSession):
    """FileSession noting when each call was made; `refuse` may raise instead of answering."""

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__(files)
        self.at: list[float] = []
        self.refuse: Any = None  # (method) -> an exception to raise, or None

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None  # noqa: ASYNC109
    ) -> TelegramType:
        error = self.refuse(method) if self.refuse is not None else None
        if error is not None:
            raise error
        result = await super().make_request(bot, method, timeout)
        self.at.append(asyncio.get_running_loop().time())
        return result


def upload(chat: Chat, data: bytes) -> Update:
    return Update(update_id=next(_ids), message=Message(
        message_id=next(_ids), date=datetime.now(UTC), chat=chat, from_user=tg_user(ADMIN),
        caption="/import okx", document=Document(
            file_id="export", file_unique_id="export", file_name="okx.csv",
            mime_type="text/csv", file_size=len(data)),
    ))


def confirm(chat: Chat, preview: str, data: str) -> Update:
    return Update(update_id=next(_ids), callback_query=CallbackQuery(
        id=str(next(_ids)), from_user=tg_user(ADMIN), chat_instance="admins", data=data,
        message=Message(message_id=next(_ids), date=datetime.now(UTC), chat=chat,
                        from_user=BOT_USER, text=preview),
    ))


def progress_of(texts: list[str]) -> list[tuple[str, int]]:
    return [(m.group(1), int(m.group(2))) for m in map(PERCENT.search, texts) if m]


def assert_rising(steps: list[tuple[str, int]]) -> None:
    """Percentages only go up within a stage; stages only go forward."""
    stages = [stage for stage, _ in steps]
    assert stages == sorted(stages, key=stages.index), steps  # no stage comes back
    for stage in set(stages):
        percents = [p for s, p in steps if s == stage]
        assert percents == sorted(percents) and len(set(percents)) == len(percents), steps


@pytest.fixture
async def admin_chat(db: str, settings: Settings, services: Services) -> Chat:
    admin = tg_user(ADMIN)
    await services.users.register(
        TelegramProfile(admin.id, admin.username, admin.first_name, admin.language_code), None)
    assert settings.admin_chat_id is not None
    return Chat(id=settings.admin_chat_id, type="supergroup", title="Admins")


@pytest.mark.usefixtures("arq")
async def test_a_large_file_shows_progress_in_one_message_edited_in_place(
    dispatcher: Dispatcher, admin_chat: Chat, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(admin_exchanges, "PROGRESS_EVERY", EDIT_EVERY)
    data, rows = big_generic_csv(LARGE_BYTES)
    assert rows > admin_exchanges.PROGRESS_ROWS
    session = TimedSession({"export": data})
    bot = MockedBot()
    bot.session = session

    # The preview: one message, "Reading…" at once, edited, ending as the preview.
    await dispatcher.feed_update(bot, upload(admin_chat, data))
    calls = [(at, call) for at, call in zip(session.at, session.calls, strict=True)
             if getattr(call, "chat_id", None) == admin_chat.id]
    sends = [call for _, call in calls if isinstance(call, SendMessage)]
    assert len(sends) == 1 and sends[0] is calls[0][1], calls
    assert sends[0].text == "⏳ Reading okx.csv… 0%"
    edits = [(at, call) for at, call in calls if isinstance(call, EditMessageText)]
    assert len(edits) == len(calls) - 1
    assert {call.message_id for _, call in edits} == {1000}  # RecordingSession's first id
    *updates, (_, result) = edits
    steps = progress_of([sends[0].text] + [call.text for _, call in updates])
    assert len(updates) == len(steps) - 1 and len(steps) >= 3, steps  # seen to advance
    assert_rising(steps)
    assert steps[-1][0] == "Checking" and 0 < steps[-1][1] <= 100, steps
    # Rate-limited: never two updates within PROGRESS_EVERY; at most ~10 a stage.
    times = [calls[0][0]] + [at for at, _ in updates]
    assert all(b - a >= EDIT_EVERY * 0.9 for a, b in itertools.pairwise(times)), times
    assert len(updates) <= 2 + 100 // admin_exchanges.PROGRESS_STEP
    assert f"Rows: {rows}\nNew: {rows}\nChanged: 0" in result.text, result.text
    assert result.reply_markup is not None
    go = result.reply_markup.inline_keyboard[0][0].callback_data  # type: ignore[union-attr]
    assert go is not None and go.startswith("csv:go:")
    print(f"{len(data) / 1e6:.1f} MB, {rows} rows; preview steps {steps}")

    # The import: the preview message itself shows the progress, then the result.
    session.clear()
    session.at.clear()
    decision = confirm(admin_chat, result.text, go)
    assert decision.callback_query is not None and decision.callback_query.message is not None
    preview_id = decision.callback_query.message.message_id
    await dispatcher.feed_update(bot, decision)
    calls = [(at, call) for at, call in zip(session.at, session.calls, strict=True)
             if getattr(call, "chat_id", None) == admin_chat.id]
    assert all(isinstance(call, EditMessageText) and call.message_id == preview_id
               for _, call in calls), calls
    *updates, (_, final) = calls
    steps = progress_of([call.text for _, call in updates])
    assert len(steps) == len(updates) >= 2 and steps[0] == ("Reading", 0), steps
    assert_rising(steps)
    assert all(call.reply_markup is None for _, call in calls)
    assert all(b - a >= EDIT_EVERY * 0.9
               for a, b in itertools.pairwise([at for at, _ in updates]))
    assert len(updates) <= 2 + 100 // admin_exchanges.PROGRESS_STEP
    assert (f"imported.\nRows: {rows}\nNew: {rows}\nChanged: 0"
            in final.text), final.text
    assert "⏳" not in final.text
    assert await CommissionRecord.filter(exchange_id="okx").count() == rows
    print(f"import steps {steps}")


async def test_a_small_file_shows_no_progress(
    dispatcher: Dispatcher, admin_chat: Chat,
) -> None:
    data, rows = big_generic_csv(SMALL_BYTES)
    session = TimedSession({"export": data})
    bot = MockedBot()
    bot.session = session
    await dispatcher.feed_update(bot, upload(admin_chat, data))
    shown = [call for call in session.calls if getattr(call, "chat_id", None) == admin_chat.id]
    assert len(shown) == 1 and isinstance(shown[0], SendMessage), shown
    assert f"Rows: {rows}\n" in shown[0].text and "⏳" not in shown[0].text


@pytest.mark.parametrize("refusal", ["flood_then_not_modified", "message_gone"])
async def test_refused_progress_edits_do_not_fail_the_preview(
    dispatcher: Dispatcher, admin_chat: Chat, monkeypatch: pytest.MonkeyPatch, refusal: str,
) -> None:
    monkeypatch.setattr(admin_exchanges, "PROGRESS_EVERY", EDIT_EVERY)
    data, rows = big_generic_csv(LARGE_BYTES)
    session = TimedSession({"export": data})
    bot = MockedBot()
    bot.session = session
    refused: list[str] = []

    def refuse(method: TelegramMethod[Any]) -> Exception | None:
        if not isinstance(method, EditMessageText):
            return None
        if refusal == "message_gone":
            refused.append(method.text)
            return TelegramBadRequest(method, "Bad Request: message to edit not found")
        if "⏳" not in method.text:
            return None  # the result goes through
        refused.append(method.text)
        if len(refused) == 1:
            return TelegramRetryAfter(method, "Flood control exceeded", retry_after=5)
        return TelegramBadRequest(method, "Bad Request: message is not modified")

    session.refuse = refuse
    await dispatcher.feed_update(bot, upload(admin_chat, data))
    assert refused
    answered = [call for call in session.calls
                if getattr(call, "chat_id", None) == admin_chat.id]
    final = answered[-1]
    assert f"Rows: {rows}\nNew: {rows}\nChanged: 0" in final.text, final.text
    if refusal == "message_gone":  # one refused update stops them; the result is a new message
        assert len(refused) == 1 and isinstance(final, SendMessage), answered
    else:
        assert isinstance(final, EditMessageText), answered
