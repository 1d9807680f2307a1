"""Telegram JSON shapes for logged messages, plus the stub's own log-view shape."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import markup
from .models import LoggedMessage

if TYPE_CHECKING:
    from .state import StubState


def message_json(state: StubState, message: LoggedMessage) -> dict[str, Any]:
    """The ``Message`` object Telegram would return / put into an update."""
    sender = state.bot if message.from_bot else state.users[message.sender_id]
    data: dict[str, Any] = {
        "message_id": message.message_id,
        "from": sender.to_api(),
        "chat": state.chats[message.chat_id].to_api(),
        "date": message.date,
    }
    if message.edit_date is not None:
        data["edit_date"] = message.edit_date
    if message.text is not None:
        data["text"] = message.text
        if message.entities:
            data["entities"] = message.entities
    if message.document is not None:
        data["document"] = message.document
    if message.photo is not None:
        data["photo"] = message.photo
    if message.caption is not None:
        data["caption"] = message.caption
        if message.caption_entities:
            data["caption_entities"] = message.caption_entities
    if message.link_preview_options is not None:
        data["link_preview_options"] = message.link_preview_options
    # Telegram echoes only inline keyboards back on the message object.
    if message.reply_markup and "inline_keyboard" in message.reply_markup:
        data["reply_markup"] = message.reply_markup
    return data


def log_entry_json(message: LoggedMessage) -> dict[str, Any]:
    """The stub's view of a message for the page and tests: includes edits and deletions."""
    if message.text is not None:
        rendered = markup.safe_html(message.text, message.entities)
    else:
        rendered = markup.safe_html(message.caption or "", message.caption_entities)
    return {
        "chat_id": message.chat_id,
        "message_id": message.message_id,
        "from_bot": message.from_bot,
        "from_id": message.sender_id,
        "date": message.date,
        "text": message.text,
        "caption": message.caption,
        "entities": message.entities or message.caption_entities,
        "html": rendered,
        "sent_text": message.sent_text,
        "parse_mode": message.parse_mode,
        "reply_markup": message.reply_markup,
        "link_preview_options": message.link_preview_options,
        "document": message.document,
        "photo": message.photo,
        "reply_to_message_id": message.reply_to_message_id,
        "edit_count": message.edit_count,
        "edit_date": message.edit_date,
        "deleted": message.deleted,
        "version": message.version,
    }
