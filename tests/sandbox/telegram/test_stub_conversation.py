"""A real aiogram bot in long polling, driven through the stub like a person would."""

from __future__ import annotations

from aiogram import Bot

from sandbox.telegram import StubClient, StubState

from .conftest import ALICE, BOB, GROUP


async def test_start_with_payload_gets_bot_command_and_formatted_reply(
    polling_bot: Bot, stub_client: StubClient, stub_state: StubState
) -> None:
    sent = await stub_client.send(ALICE, ALICE, "/start ref_42")
    assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]

    reply = await stub_client.wait_for_bot_message(ALICE, "Hello")
    assert reply["text"] == "Hello Alice, payload=ref_42"
    assert reply["sent_text"] == "Hello <b>Alice</b>, payload=ref_42"
    assert reply["html"] == "Hello <b>Alice</b>, payload=ref_42"
    assert {"type": "bold", "offset": 6, "length": 5} in reply["entities"]
    assert [b["text"] for row in reply["reply_markup"]["inline_keyboard"] for b in row] == [
        "Ping",
        "Docs",
        "App",
    ]
    assert stub_state.calls_to("getMe"), "aiogram identifies itself before polling"


async def test_button_press_answers_and_edits_in_place(
    polling_bot: Bot, stub_client: StubClient, stub_state: StubState
) -> None:
    await stub_client.send(ALICE, ALICE, "/start")
    original = await stub_client.wait_for_bot_message(ALICE, "Hello")

    pressed = await stub_client.press_button(ALICE, ALICE, "Ping", wait_answer=3)
    assert pressed["answer"]["text"] == "pong"
    assert pressed["answer"]["show_alert"] is False

    edited = await stub_client.wait_for_bot_message(ALICE, lambda m: m["edit_count"] == 1)
    assert edited["message_id"] == original["message_id"]
    assert edited["text"] == "Pressed ping"
    assert edited["html"] == "Pressed <i>ping</i>"
    assert edited["reply_markup"] is None  # an edit without reply_markup drops the keyboard
    assert len(await stub_client.bot_messages(ALICE)) == 1


async def test_echo_in_group_and_consecutive_waits(
    polling_bot: Bot, stub_client: StubClient
) -> None:
    await stub_client.send(GROUP, BOB, "one")
    await stub_client.send(GROUP, BOB, "two")
    first = await stub_client.wait_for_bot_message(GROUP)
    second = await stub_client.wait_for_bot_message(GROUP)
    assert {first["text"], second["text"]} == {"echo: one", "echo: two"}


async def test_user_uploads_document_and_bot_downloads_it(
    polling_bot: Bot, stub_client: StubClient
) -> None:
    sent = await stub_client.upload(ALICE, ALICE, "trades.csv", b"a,b\n1,2", "text/csv")
    assert sent["document"]["file_name"] == "trades.csv"
    reply = await stub_client.wait_for_bot_message(ALICE, "got")
    assert reply["text"] == "got trades.csv: a,b\n1,2"
