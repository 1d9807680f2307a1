"""Bot-side behaviour seen through a real aiogram Bot: validation, 429s, files, polling."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonWebApp,
    WebAppInfo,
)

from sandbox.telegram import RateLimits, StubState

from .conftest import ALICE, BOB, GROUP, make_bot


def _keyboard(**button: object) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="B", **button)]])


async def test_get_me_reports_stub_identity(stub_bot: Bot, stub_state: StubState) -> None:
    me = await stub_bot.get_me()
    assert me.id == stub_state.bot.id
    assert me.is_bot and me.username == stub_state.bot.username


async def test_validation_errors_match_telegram(stub_bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await stub_bot.send_message(ALICE, "x", reply_markup=_keyboard(callback_data="x" * 65))
    await stub_bot.send_message(ALICE, "x", reply_markup=_keyboard(callback_data="x" * 64))
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await stub_bot.send_message(ALICE, "")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await stub_bot.send_message(ALICE, "<b> </b>")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await stub_bot.send_message(ALICE, "a" * 4097)
    await stub_bot.send_message(ALICE, "<b>" + "a" * 4096 + "</b>")  # tags do not count
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await stub_bot.send_message(ALICE, "<b>unclosed")
    with pytest.raises(TelegramBadRequest, match='Unsupported start tag "br"'):
        await stub_bot.send_message(ALICE, "line<br>line")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await stub_bot.send_message(424242, "hi")
    with pytest.raises(TelegramBadRequest, match="BUTTON_TYPE_INVALID"):
        await stub_bot.send_message(
            GROUP, "x", reply_markup=_keyboard(web_app=WebAppInfo(url="https://e.com"))
        )


async def test_edit_rules(stub_bot: Bot, stub_state: StubState) -> None:
    keyboard = _keyboard(callback_data="a")
    sent = await stub_bot.send_message(ALICE, "<b>v1</b>", reply_markup=keyboard)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await stub_bot.edit_message_text(
            "<b>v1</b>",
            chat_id=ALICE,
            message_id=sent.message_id,
            reply_markup=_keyboard(callback_data="a"),
        )
    await stub_bot.edit_message_text(
        "<b>v2</b>",
        chat_id=ALICE,
        message_id=sent.message_id,
        reply_markup=_keyboard(callback_data="a"),
    )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await stub_bot.edit_message_reply_markup(
            chat_id=ALICE, message_id=sent.message_id, reply_markup=_keyboard(callback_data="a")
        )
    await stub_bot.edit_message_reply_markup(chat_id=ALICE, message_id=sent.message_id)
    logged = stub_state.find_message(ALICE, sent.message_id)
    assert logged is not None
    assert (logged.text, logged.edit_count, logged.reply_markup) == ("v2", 2, None)

    user_message = stub_state.user_sends(ALICE, ALICE, "mine")
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await stub_bot.edit_message_text("x", chat_id=ALICE, message_id=user_message.message_id)
    assert await stub_bot.delete_message(ALICE, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await stub_bot.delete_message(ALICE, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await stub_bot.edit_message_text("x", chat_id=ALICE, message_id=sent.message_id)


async def test_injected_429_reaches_the_bot_as_retry_after(
    stub_bot: Bot, stub_state: StubState
) -> None:
    stub_state.fail_next(2, method="sendMessage", chat_id=BOB, retry_after=7)
    await stub_bot.send_message(ALICE, "other chats are unaffected")
    for _ in range(2):
        with pytest.raises(TelegramRetryAfter) as caught:
            await stub_bot.send_message(BOB, "hi")
        assert caught.value.retry_after == 7
    await stub_bot.send_message(BOB, "third time lucky")
    statuses = [c.status for c in stub_state.calls_to("sendMessage")]
    assert statuses == [200, 429, 429, 200]

    stub_state.fail_next(1, error_code=403, description="Forbidden: bot was blocked by the user")
    with pytest.raises(TelegramForbiddenError):
        await stub_bot.send_chat_action(ALICE, "typing")


async def test_rate_limits_and_blocked_users(stub_bot: Bot, stub_state: StubState) -> None:
    stub_state.enable_rate_limits(RateLimits(per_chat_per_second=2))
    await stub_bot.send_message(ALICE, "1")
    await stub_bot.send_message(ALICE, "2")
    with pytest.raises(TelegramRetryAfter):
        await stub_bot.send_message(ALICE, "3")
    await stub_bot.send_message(BOB, "other chat is fine")

    stub_state.block_bot(BOB)
    with pytest.raises(TelegramForbiddenError, match="blocked"):
        await stub_bot.send_message(BOB, "hello?")


async def test_wrong_token_and_unknown_method(stub_url: str, stub_state: StubState) -> None:
    impostor = make_bot(stub_url, "42:wrong-token")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await impostor.get_me()
    finally:
        await impostor.session.close()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{stub_url}/bot{stub_state.token}/sendTelepathy", json={}) as response,
    ):
        assert response.status == 404
        assert await response.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found",
        }


async def test_send_document_and_download_via_get_file(stub_bot: Bot) -> None:
    payload = b"%PDF-1.4 fake report"
    sent = await stub_bot.send_document(
        ALICE, BufferedInputFile(payload, "report.pdf"), caption="<b>Your</b> report"
    )
    assert sent.document is not None and sent.caption == "Your report"
    file = await stub_bot.get_file(sent.document.file_id)
    assert file.file_path is not None
    downloaded = await stub_bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == payload
    # Re-sending by file_id works like Telegram.
    again = await stub_bot.send_document(BOB, sent.document.file_id)
    assert again.document is not None and again.document.file_id == sent.document.file_id
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await stub_bot.send_document(BOB, "no-such-file-id")


async def test_settings_methods(stub_bot: Bot, stub_state: StubState) -> None:
    await stub_bot.set_my_commands([BotCommand(command="start", description="Start")])
    assert [c.command for c in await stub_bot.get_my_commands()] == ["start"]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await stub_bot.set_my_commands([BotCommand(command="Bad Command", description="x")])
    await stub_bot.set_chat_menu_button(
        chat_id=ALICE,
        menu_button=MenuButtonWebApp(text="App", web_app=WebAppInfo(url="https://e.com/app")),
    )
    assert stub_state.menu_buttons[ALICE]["type"] == "web_app"
    chat = await stub_bot.get_chat(GROUP)
    assert chat.title == "Admins"
    member = await stub_bot.get_chat_member(GROUP, ALICE)
    assert member.status == "administrator"
    assert await stub_bot.send_chat_action(ALICE, "typing")
    assert stub_state.current_chat_action(ALICE) == "typing"
    with pytest.raises(TelegramNotFound):
        # Methods the stub does not implement fail loudly instead of pretending.
        await stub_bot.send_dice(ALICE)


async def test_get_updates_long_poll_returns_early_and_offset_confirms(
    stub_bot: Bot, stub_state: StubState
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(stub_bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    stub_state.user_sends(ALICE, ALICE, "wake up")
    updates = await poll
    assert time.monotonic() - started < 2
    assert [u.message.text for u in updates if u.message] == ["wake up"]

    stub_state.user_sends(ALICE, ALICE, "second")
    updates = await stub_bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert [u.message.text for u in updates if u.message] == ["second"]
    assert updates[0].update_id > 1
    await stub_bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert stub_state.updates == []


async def test_answer_callback_query_twice_is_rejected(
    stub_bot: Bot, stub_state: StubState
) -> None:
    sent = await stub_bot.send_message(ALICE, "pick", reply_markup=_keyboard(callback_data="k"))
    query = stub_state.user_presses(ALICE, ALICE, sent.message_id, "k")
    assert await stub_bot.answer_callback_query(query.id, "ok", show_alert=True)
    assert query.answer is not None and query.answer["show_alert"] is True
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await stub_bot.answer_callback_query(query.id)
