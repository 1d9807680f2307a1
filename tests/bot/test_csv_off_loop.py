"""Regression (heavy work never runs on the bot's event loop): a 9 MB CSV import through the
admin chat - its preview and its import - does not delay a trader's reply by more than 100 ms.

The whole path runs through the production Dispatcher: the operator's upload is downloaded
(a mocked session serving the file), previewed (dry run), confirmed (the real import), while a
trader asks for the menu over and over and a probe watches the event loop's lateness.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.methods import EditMessageText, GetFile, SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import CallbackQuery, Chat, Document, File, Message, Update
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from bot.app import Services
from bot.settings import Settings
from exchanges.csv_import import GENERIC_COLUMNS, MAX_FILE_CHARS, MAX_ROWS
from handlers.admin.exchanges import MAX_CSV_BYTES
from services.jobs import queue_name
from services.models import CommissionRecord, SyncRun, SyncRunStatus
from services.users import TelegramProfile
from tests.conftest import TEST_REDIS_URL
from tests.support.mocked_bot import BOT_USER, MockedBot, RecordingSession
from tests.support.updates import message_update, tg_user

ADMIN = 900  # in the test settings' ADMIN_IDS
TRADER = 990_001
FILE_ID = "big-export"
CSV_BYTES = 9 * 1024 * 1024  # the file; within MAX_CSV_BYTES, MAX_FILE_CHARS, MAX_ROWS
# A regression guard, not a speed goal: parsing on the loop blocked it 4-5 s; off the loop the
# worst reply is ~15-120 ms here depending on what else the machine runs (CI saw 117 ms once).
# A bound at 100 ms failed on noise, so it sits far above the noise and far below the regression.
WORST_DELAY = 0.500
PROBE_EVERY = 0.010  # the loop probe's sleep
ASK_EVERY = 0.050  # the trader's pause between two /menu

_ids = itertools.count(5_000_000)


def big_generic_csv(size: int) -> tuple[bytes, int]:
    """A valid generic-format file of about `size` bytes for OKX, and its row count: 60 days
    (up to yesterday) x spot and futures per UID."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = [(yesterday - timedelta(days=n)).isoformat() for n in range(60)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(GENERIC_COLUMNS)
    rows = 0
    for uid in itertools.count(100_000_000_000_000_001):
        if out.tell() >= size:
            break
        for n, day in enumerate(days):
            for product in ("spot", "futures"):
                writer.writerow(["okx", uid, day, product, f"{1500 + n}.5", "1.5005", "0.6002",
                                 "USDT", "1"])
                rows += 1
    return out.getvalue().encode(), rows


class FileSession(RecordingSession):
    """RecordingSession that also serves files: getFile, then the download as a stream."""

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__()
        self.files = files

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None  # noqa: ASYNC109
    ) -> TelegramType:
        if isinstance(method, GetFile):
            self.calls.append(method)
            return File(file_id=method.file_id, file_unique_id=method.file_id,  # type: ignore[return-value]
                        file_size=len(self.files[method.file_id]),
                        file_path=f"documents/{method.file_id}")
        return await super().make_request(bot, method, timeout)

    async def stream_content(
        self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30,  # noqa: ASYNC109
        chunk_size: int = 65536, raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        data = self.files[url.rsplit("/", 1)[-1]]
        for start in range(0, len(data), chunk_size):
            yield data[start:start + chunk_size]


@dataclass
class Responsiveness:
    replies: list[float] = field(default_factory=list)  # a trader's message to its answer
    lags: list[float] = field(default_factory=list)  # the loop probe's lateness

    def worst(self) -> str:
        return (f"worst reply {max(self.replies) * 1000:.0f} ms of {len(self.replies)}, "
                f"worst loop lag {max(self.lags) * 1000:.0f} ms of {len(self.lags)}")


async def watch(work: Awaitable[Any], ask: Callable[[], Awaitable[None]]) -> Responsiveness:
    """Run `work` while a trader asks again and again and a probe times the loop."""
    task = asyncio.ensure_future(work)
    seen = Responsiveness()
    loop = asyncio.get_running_loop()

    async def probe() -> None:
        while not task.done():
            start = loop.time()
            await asyncio.sleep(PROBE_EVERY)
            seen.lags.append(loop.time() - start - PROBE_EVERY)

    async def trader() -> None:
        # A message arrives on the trader's schedule, busy loop or not (the next one after the
        # last answer), so a reply delayed by a blocked loop counts from the arrival.
        arrival = loop.time()
        while not task.done():
            arrival = max(arrival + ASK_EVERY, loop.time())
            await asyncio.sleep(arrival - loop.time())
            await ask()
            seen.replies.append(loop.time() - arrival)

    await asyncio.gather(probe(), trader())
    await task
    return seen


@pytest.fixture
async def arq(dispatcher: Dispatcher, settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(TEST_REDIS_URL))
    before = dispatcher.workflow_data.get("arq")
    dispatcher["arq"] = pool
    yield pool
    dispatcher["arq"] = before
    await pool.delete(queue_name(settings.redis_prefix))
    async for key in pool.scan_iter(match=f"arq:job:{settings.redis_prefix}:*"):
        await pool.delete(key)
    await pool.aclose()


async def test_a_9mb_csv_import_does_not_block_a_trader_reply(  # type: ignore[no-untyped-def]
    db, dispatcher: Dispatcher, settings: Settings, services: Services, arq: ArqRedis,
) -> None:
    data, rows = big_generic_csv(CSV_BYTES)
    assert len(data) <= min(MAX_CSV_BYTES, MAX_FILE_CHARS) and rows <= MAX_ROWS
    session = FileSession({FILE_ID: data})
    bot = MockedBot()
    bot.session = session
    assert settings.admin_chat_id is not None
    admin_chat = Chat(id=settings.admin_chat_id, type="supergroup", title="Admins")
    admin, trader = tg_user(ADMIN), tg_user(TRADER)
    for user in (admin, trader):
        await services.users.register(
            TelegramProfile(user.id, user.username, user.first_name, user.language_code), None)

    async def ask() -> None:
        await dispatcher.feed_update(bot, message_update(trader, "/menu"))

    for _ in range(3):  # warm: the first replies fill caches
        await ask()
    # Start from a fresh collector: a full collection of the test process's heap takes
    # ~200 ms on a small machine whatever runs, so one due anyway must not land in the window.
    gc.collect()

    upload = Update(update_id=next(_ids), message=Message(
        message_id=next(_ids), date=datetime.now(UTC), chat=admin_chat, from_user=admin,
        caption="/import okx", document=Document(
            file_id=FILE_ID, file_unique_id=FILE_ID, file_name="okx.csv",
            mime_type="text/csv", file_size=len(data)),
    ))
    preview = await watch(dispatcher.feed_update(bot, upload), ask)
    # The last word to the admin chat: a large file's progress message ends as the preview.
    answer = [call for call in session.calls if isinstance(call, SendMessage | EditMessageText)
              and call.chat_id == admin_chat.id][-1]
    assert f"Rows: {rows}\nNew: {rows}\nChanged: 0" in answer.text, answer.text
    assert answer.reply_markup is not None
    confirm = answer.reply_markup.inline_keyboard[0][0].callback_data  # type: ignore[union-attr]
    assert confirm is not None and confirm.startswith("csv:go:")
    assert await CommissionRecord.all().count() == 0  # a dry run stores nothing

    decision = Update(update_id=next(_ids), callback_query=CallbackQuery(
        id=str(next(_ids)), from_user=admin, chat_instance="admins", data=confirm,
        message=Message(message_id=next(_ids), date=datetime.now(UTC), chat=admin_chat,
                        from_user=BOT_USER, text=answer.text),
    ))
    imported = await watch(dispatcher.feed_update(bot, decision), ask)
    edited = [call for call in session.calls
              if isinstance(call, EditMessageText) and call.chat_id == admin_chat.id][-1]
    assert f"imported.\nRows: {rows}\nNew: {rows}\nChanged: 0" in edited.text, edited.text
    assert await CommissionRecord.filter(exchange_id="okx").count() == rows
    run = await SyncRun.get(exchange_id="okx", trigger="csv")
    assert (run.status, run.records_seen, run.records_new) == (SyncRunStatus.OK, rows, rows)

    menus = [call for call in session.calls
             if isinstance(call, SendMessage) and call.chat_id == TRADER]
    assert len(menus) == 3 + len(preview.replies) + len(imported.replies)  # each one answered
    summary = (f"{len(data) / 1e6:.1f} MB, {rows} rows; preview: {preview.worst()}; "
               f"import: {imported.worst()}")
    print(summary)
    for seen in (preview, imported):
        assert max(seen.replies) < WORST_DELAY, summary
        assert max(seen.lags) < WORST_DELAY, summary
