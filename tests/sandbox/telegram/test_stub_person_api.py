"""The person side over HTTP: log views, refusals, declaring people, the chat page."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot

from sandbox.telegram import StubClient, StubError, StubState

from .conftest import ALICE, BOB, GROUP


async def test_press_is_refused_for_buttons_not_on_the_message(
    stub_bot: Bot, stub_client: StubClient
) -> None:
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Yes", callback_data="yes")]]
    )
    sent = await stub_bot.send_message(ALICE, "Sure?", reply_markup=markup)
    with pytest.raises(StubError, match="no button"):
        await stub_client.press(ALICE, ALICE, sent.message_id, "no")
    with pytest.raises(StubError, match="not a member"):
        await stub_client.press(ALICE, BOB, sent.message_id, "yes")
    with pytest.raises(LookupError):
        await stub_client.press_button(ALICE, ALICE, "Maybe")
    pressed = await stub_client.press_button(ALICE, ALICE, "Yes")
    assert pressed["answer"] is None  # nobody is polling, so nobody answered


async def test_messages_log_tracks_edits_and_deletions_by_cursor(
    stub_bot: Bot, stub_client: StubClient, stub_url: str
) -> None:
    first = await stub_bot.send_message(ALICE, "first")
    await stub_bot.send_message(ALICE, "second")
    async with aiohttp.ClientSession() as http:
        url = f"{stub_url}/stub/api/chats/{ALICE}/messages"
        async with http.get(url) as response:
            body = await response.json()
        cursor = body["cursor"]
        assert [m["text"] for m in body["messages"]] == ["first", "second"]
        await stub_bot.edit_message_text("first!", chat_id=ALICE, message_id=first.message_id)
        async with http.get(url, params={"after": cursor}) as response:
            changed = (await response.json())["messages"]
        assert [(m["text"], m["edit_count"]) for m in changed] == [("first!", 1)]
    await stub_bot.delete_message(ALICE, first.message_id)
    assert [m["text"] for m in await stub_client.messages(ALICE)] == ["second"]
    everything = await stub_client.messages(ALICE, include_deleted=True)
    assert [m["deleted"] for m in everything] == [True, False]


async def test_wait_for_bot_message_times_out_with_context(
    stub_bot: Bot, stub_client: StubClient
) -> None:
    await stub_bot.send_message(ALICE, "unrelated")
    with pytest.raises(TimeoutError, match="unrelated"):
        await stub_client.wait_for_bot_message(ALICE, "never", timeout=0.3)


async def test_refusals_for_people(stub_client: StubClient) -> None:
    with pytest.raises(StubError, match="unknown user"):
        await stub_client.send(999, 999, "hi")
    with pytest.raises(StubError, match="message text is empty"):
        await stub_client.send(ALICE, ALICE, "   ")
    with pytest.raises(StubError, match="not a member"):
        await stub_client.send(BOB, ALICE, "writing into someone else's private chat")
    with pytest.raises(StubError, match="chat not found"):
        await stub_client.send(GROUP - 1, ALICE, "no such group")


async def test_declare_people_over_http_and_state_view(
    stub_client: StubClient, stub_state: StubState
) -> None:
    await stub_client.add_user(900, "Carol", "carol", "de")
    await stub_client.add_group(-900, "Desk", members=[900], admins=[ALICE])
    await stub_client.fail_next(1, method="sendMessage")
    state = await stub_client.state()
    labels = [p["label"] for p in state["personas"]]
    assert "Carol — private chat" in labels and "Carol — Desk" in labels
    assert "Alice — Admins" in labels and "Bob — Admins" in labels
    assert stub_state.faults[0].method == "sendmessage"


async def test_chat_page_is_served(stub_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stub_url}/") as response:
            page = await response.text()
            assert response.status == 200 and str(response.url).endswith("/stub/")
        assert "Telegram stub" in page and "/stub/static/chat.js" in page
        for asset in ("chat.js", "chat.css"):
            async with http.get(f"{stub_url}/stub/static/{asset}") as response:
                assert response.status == 200
