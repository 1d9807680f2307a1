"""Telegram's checks on keyboards and commands that are worth failing loudly on in tests."""

from __future__ import annotations

import re
from typing import Any

from .models import StubChat, bad_request

MAX_CALLBACK_DATA_BYTES = 64
_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_URL_SCHEMES = ("http://", "https://", "tg://")
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def reply_markup(markup: Any, chat: StubChat) -> dict[str, Any] | None:
    """Validate a reply_markup; returns it normalised (an empty inline keyboard -> None)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = _rows(markup["inline_keyboard"])
        for row in rows:
            for button in row:
                _inline_button(button, chat)
        return markup if any(rows) else None
    if "keyboard" in markup:
        for row in _rows(markup["keyboard"]):
            for button in row:
                text = button if isinstance(button, str) else (button or {}).get("text")
                if not isinstance(text, str) or not text:
                    raise bad_request("keyboard button text must be non-empty")
        return markup
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")


def _rows(rows: Any) -> list[list[Any]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" must be an Array of Arrays')
    return rows


def _inline_button(button: Any, chat: StubChat) -> None:
    if not isinstance(button, dict) or not button.get("text"):
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [key for key in _ACTIONS if key in button]
    if not actions:
        raise bad_request("text buttons are unallowed in the inline keyboard")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not str(button["url"]).startswith(_URL_SCHEMES):
        raise bad_request("BUTTON_URL_INVALID")
    if "web_app" in button:
        url = (button["web_app"] or {}).get("url", "")
        if not str(url).startswith(("http://", "https://")):
            raise bad_request("BUTTON_URL_INVALID")
        if chat.type != "private":
            # Telegram only allows web_app inline buttons in private chats.
            raise bad_request("BUTTON_TYPE_INVALID")


def commands(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > 100:
        raise bad_request("commands must be an array of at most 100 BotCommand")
    for command in value:
        if not isinstance(command, dict) or not _COMMAND_RE.match(str(command.get("command"))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    return value
