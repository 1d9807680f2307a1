"""Bot API methods that create, change or remove messages, and callback-query answers."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from . import markup, validation
from .models import LoggedMessage, StoredFile, StubChat, bad_request
from .registry import Call, method
from .serialize import message_json

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_PHOTO_SIDE = 512  # the stub does not decode images; PhotoSize needs some dimensions


def _parse(call: Call, text: str, *, caption: bool = False) -> markup.ParsedText:
    entities_key = "caption_entities" if caption else "entities"
    try:
        parsed = markup.parse_text(text, call.get("parse_mode"), call.get(entities_key))
    except markup.ParseError as exc:
        raise bad_request(f"can't parse entities: {exc}") from exc
    limit = markup.MAX_CAPTION_LENGTH if caption else markup.MAX_TEXT_LENGTH
    if markup.utf16_len(parsed.text) > limit:
        raise bad_request("message caption is too long" if caption else "message is too long")
    if not caption and not parsed.text:
        raise bad_request("message text is empty")
    return parsed


def _reply_to(call: Call, chat: StubChat) -> int | None:
    params = call.get("reply_parameters") or {}
    target = params.get("message_id") if isinstance(params, dict) else None
    target = target or call.get("reply_to_message_id")
    if target is None:
        return None
    allow_missing = params.get("allow_sending_without_reply") or call.get(
        "allow_sending_without_reply"
    )
    if call.state.find_message(chat.id, int(target)) is None and not allow_missing:
        raise bad_request("message to be replied not found")
    return int(target)


def _new_message(call: Call, chat: StubChat, **fields: Any) -> LoggedMessage:
    return call.state.append_message(
        LoggedMessage(
            chat.id,
            0,
            True,
            call.state.bot.id,
            int(time.time()),
            parse_mode=call.get("parse_mode"),
            reply_markup=validation.reply_markup(call.get("reply_markup"), chat),
            reply_to_message_id=_reply_to(call, chat),
            **fields,
        )
    )


@method("sendMessage")
async def send_message(call: Call) -> dict[str, Any]:
    chat = call.chat()
    text = call.get("text") or ""  # aiogram omits empty fields entirely
    parsed = _parse(call, str(text))
    preview = call.get("link_preview_options")
    if preview is None and call.get("disable_web_page_preview") is not None:
        preview = {"is_disabled": bool(call.get("disable_web_page_preview"))}
    message = _new_message(
        call,
        chat,
        text=parsed.text,
        entities=parsed.entities,
        sent_text=str(text),
        link_preview_options=preview,
    )
    return message_json(call.state, message)


def _editable(call: Call) -> tuple[StubChat, LoggedMessage]:
    if call.get("inline_message_id"):
        raise bad_request("inline messages are not supported by the stub")
    chat = call.chat()
    message = call.state.find_message(chat.id, call.int_param("message_id"))
    if message is None:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return chat, message


def _apply_edit(call: Call, message: LoggedMessage, **changes: Any) -> dict[str, Any]:
    if all(getattr(message, key) == value for key, value in changes.items()):
        raise bad_request(_NOT_MODIFIED)
    for key, value in changes.items():
        setattr(message, key, value)
    message.edit_count += 1
    message.edit_date = int(time.time())
    call.state.touch(message)
    return message_json(call.state, message)


@method("editMessageText")
async def edit_message_text(call: Call) -> dict[str, Any]:
    chat, message = _editable(call)
    if message.text is None:
        raise bad_request("there is no text in the message to edit")
    text = str(call.get("text") or "")
    parsed = _parse(call, text)
    # Like Telegram, an edit without reply_markup drops the inline keyboard.
    new_markup = validation.reply_markup(call.get("reply_markup"), chat)
    changes: dict[str, Any] = {
        "text": parsed.text,
        "entities": parsed.entities,
        "reply_markup": new_markup,
    }
    if call.get("link_preview_options") is not None:
        changes["link_preview_options"] = call.get("link_preview_options")
    result = _apply_edit(call, message, **changes)
    message.sent_text, message.parse_mode = text, call.get("parse_mode")
    return result


@method("editMessageCaption")
async def edit_message_caption(call: Call) -> dict[str, Any]:
    chat, message = _editable(call)
    if message.text is not None:
        raise bad_request("there is no caption in the message to edit")
    parsed = _parse(call, str(call.get("caption") or ""), caption=True)
    new_markup = validation.reply_markup(call.get("reply_markup"), chat)
    return _apply_edit(
        call,
        message,
        caption=parsed.text or None,
        caption_entities=parsed.entities,
        reply_markup=new_markup,
    )


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(call: Call) -> dict[str, Any]:
    chat, message = _editable(call)
    new_markup = validation.reply_markup(call.get("reply_markup"), chat)
    if new_markup is not None and "inline_keyboard" not in new_markup:
        raise bad_request("only inline keyboards can be set by editMessageReplyMarkup")
    return _apply_edit(call, message, reply_markup=new_markup)


def _delete(call: Call, chat: StubChat, message_id: int) -> bool:
    message = call.state.find_message(chat.id, message_id)
    if message is None:
        return False
    message.deleted = True
    call.state.touch(message)
    return True


@method("deleteMessage")
async def delete_message(call: Call) -> bool:
    if not _delete(call, call.chat(), call.int_param("message_id")):
        raise bad_request("message to delete not found")
    return True


@method("deleteMessages")
async def delete_messages(call: Call) -> bool:
    chat = call.chat()
    for message_id in call.require("message_ids"):
        _delete(call, chat, int(message_id))
    return True


@method("answerCallbackQuery")
async def answer_callback_query(call: Call) -> bool:
    query = call.state.callback_queries.get(str(call.require("callback_query_id")))
    if query is None or query.answer is not None:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = call.get("text")
    if text is not None and len(str(text)) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    query.answer = {
        "text": text,
        "show_alert": bool(call.get("show_alert", False)),
        "url": call.get("url"),
        "cache_time": call.get("cache_time"),
    }
    call.state.callback_answered.fire()
    return True


async def _input_file(call: Call, field: str) -> StoredFile:
    """Resolve an InputFile: multipart upload, attach://name, known file_id or an HTTP URL."""
    value = call.get(field)
    upload = call.files.get(field)
    if isinstance(value, str) and value.startswith("attach://"):
        upload = call.files.get(value.removeprefix("attach://"))
    if upload is not None:
        return call.state.store_file(upload.content, upload.filename, upload.content_type)
    if not isinstance(value, str) or not value:
        raise bad_request(f"there is no {field} in the request")
    if value in call.state.files:
        return call.state.files[value]
    if value.startswith(("http://", "https://")):
        return await _download(call, value)
    raise bad_request("wrong file identifier/HTTP URL specified")


async def _download(call: Call, url: str) -> StoredFile:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(url) as response,
        ):
            response.raise_for_status()
            content = await response.read()
            mime = response.content_type
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise bad_request("failed to get HTTP URL content") from exc
    name = url.rsplit("/", 1)[-1] or "file"
    return call.state.store_file(content, name, mime)


def _caption(call: Call) -> tuple[str | None, list[dict[str, Any]]]:
    raw = call.get("caption")
    if not raw:
        return None, []
    parsed = _parse(call, str(raw), caption=True)
    return parsed.text or None, parsed.entities


@method("sendDocument")
async def send_document(call: Call) -> dict[str, Any]:
    chat = call.chat()
    stored = await _input_file(call, "document")
    caption, entities = _caption(call)
    message = _new_message(
        call,
        chat,
        document=stored.document_json(),
        caption=caption,
        caption_entities=entities,
        sent_text=call.get("caption"),
    )
    return message_json(call.state, message)


@method("sendPhoto")
async def send_photo(call: Call) -> dict[str, Any]:
    chat = call.chat()
    stored = await _input_file(call, "photo")
    caption, entities = _caption(call)
    size = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.content),
        "width": _PHOTO_SIDE,
        "height": _PHOTO_SIDE,
    }
    message = _new_message(
        call,
        chat,
        photo=[size],
        caption=caption,
        caption_entities=entities,
        sent_text=call.get("caption"),
    )
    return message_json(call.state, message)


@method("getFile")
async def get_file(call: Call) -> dict[str, Any]:
    stored = call.state.files.get(str(call.require("file_id")))
    if stored is None:
        raise bad_request("invalid file_id")
    return stored.file_json()


@method("sendChatAction")
async def send_chat_action(call: Call) -> bool:
    chat = call.chat()
    call.state.set_chat_action(chat.id, str(call.require("action")))
    return True
