"""The person side of the stub (``/stub/api/...``): what the chat page and tests do."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .bot_api import STATE_KEY
from .models import ApiError, bad_request
from .serialize import log_entry_json
from .state import StubState

_MAX_WAIT = 30.0  # seconds; long-poll caps so a forgotten request cannot hang shutdown

UserHandler = Callable[[web.Request, StubState], Awaitable[dict[str, Any]]]


def _endpoint(handler: UserHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Wrap a handler: JSON ``{"ok": true, ...}`` out, ApiError -> ``{"ok": false, ...}``."""

    async def wrapped(request: web.Request) -> web.Response:
        try:
            body = await handler(request, request.app[STATE_KEY])
        except ApiError as exc:
            return web.json_response(exc.to_json(), status=exc.error_code)
        return web.json_response({"ok": True, **body})

    return wrapped


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise bad_request("expected a JSON object") from exc
    if not isinstance(body, dict):
        raise bad_request("expected a JSON object")
    return body


def _int(body: Any, key: str, default: int | None = None) -> int:
    value = body.get(key, default)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"{key} must be an integer") from exc


async def send(request: web.Request, state: StubState) -> dict[str, Any]:
    body = await _json(request)
    from_id = _int(body, "from")
    message = state.user_sends(_int(body, "chat_id", from_id), from_id, str(body.get("text", "")))
    return {"message": log_entry_json(message), "cursor": state.version}


async def press(request: web.Request, state: StubState) -> dict[str, Any]:
    body = await _json(request)
    from_id = _int(body, "from")
    query = state.user_presses(
        _int(body, "chat_id", from_id), from_id, _int(body, "message_id"), str(body.get("data"))
    )
    cursor = state.version
    # Optionally wait for answerCallbackQuery so the page can show the toast/alert.
    deadline = time.monotonic() + min(float(body.get("wait_answer") or 0), _MAX_WAIT)
    while query.answer is None and not state.closing:
        if not await state.callback_answered.wait(deadline - time.monotonic()):
            break
    return {"callback_query_id": query.id, "answer": query.answer, "cursor": cursor}


async def upload(request: web.Request, state: StubState) -> dict[str, Any]:
    form = await request.post()
    file = form.get("file")
    if not isinstance(file, web.FileField):
        raise bad_request("multipart field 'file' is required")
    from_id = _int(form, "from")
    caption = form.get("caption")
    message = state.user_uploads(
        _int(form, "chat_id", from_id),
        from_id,
        file.filename,
        file.file.read(),
        file.content_type,
        caption if isinstance(caption, str) else None,
    )
    return {"message": log_entry_json(message), "cursor": state.version}


async def chat_messages(request: web.Request, state: StubState) -> dict[str, Any]:
    chat = state.chat(_int(request.match_info, "chat_id"))
    after = _int(request.query, "after", 0)
    deadline = time.monotonic() + min(float(request.query.get("wait") or 0), _MAX_WAIT)
    # Long-poll: return as soon as this chat has anything newer than ``after``.
    while not state.messages(chat.id, after=after, include_deleted=True) and not state.closing:
        if not await state.changed.wait(deadline - time.monotonic()):
            break
    return {
        "chat": {**chat.to_api(), "label": chat.label()},
        "messages": [
            log_entry_json(m) for m in state.messages(chat.id, after=after, include_deleted=True)
        ],
        "cursor": state.version,
        "chat_action": state.current_chat_action(chat.id),
    }


def _personas(state: StubState) -> list[dict[str, Any]]:
    """Who-and-where choices for the chat page: each user's private chat, each group seat."""
    personas = [
        {
            "from": user.id,
            "chat_id": user.id,
            "label": f"{user.first_name} — private chat",
            "language_code": user.language_code,
        }
        for user in state.users.values()
    ]
    for chat in state.chats.values():
        members = [state.users[m] for m in sorted(chat.members) if m in state.users]
        if chat.user is None:
            personas.extend(
                {
                    "from": user.id,
                    "chat_id": chat.id,
                    "label": f"{user.first_name} — {chat.title}",
                    "language_code": user.language_code,
                }
                for user in members
            )
    return personas


async def get_state(request: web.Request, state: StubState) -> dict[str, Any]:
    hook = state.webhook
    return {
        "bot": state.bot.to_api(),
        "users": [{**u.to_api(), "blocked_bot": u.blocked_bot} for u in state.users.values()],
        "chats": [
            {
                **c.to_api(),
                "label": c.label(),
                "members": sorted(c.members),
                "admins": sorted(c.admins),
            }
            for c in state.chats.values()
        ],
        "personas": _personas(state),
        "webhook": None
        if hook is None
        else {
            "url": hook.url,
            "delivered": hook.delivered,
            "last_error_message": hook.last_error_message,
        },
        "pending_updates": len(state.updates),
        "commands": state.commands,
        # By chat id; the default button (setChatMenuButton without chat_id) under "null".
        "menu_buttons": {"null" if k is None else str(k): v
                         for k, v in state.menu_buttons.items()},
        "cursor": state.version,
    }


async def add_user(request: web.Request, state: StubState) -> dict[str, Any]:
    body = await _json(request)
    user = state.add_user(
        _int(body, "id"),
        str(body.get("first_name") or body["id"]),
        body.get("username"),
        body.get("language_code"),
        last_name=body.get("last_name"),
    )
    return {"user": user.to_api()}


async def add_group(request: web.Request, state: StubState) -> dict[str, Any]:
    body = await _json(request)
    try:
        chat = state.add_group(
            _int(body, "chat_id"),
            str(body.get("title") or ""),
            [int(m) for m in body.get("members", [])],
            admins=[int(a) for a in body.get("admins", [])],
        )
    except ValueError as exc:
        raise bad_request(str(exc)) from exc
    return {"chat": chat.to_api()}


async def add_fault(request: web.Request, state: StubState) -> dict[str, Any]:
    body = await _json(request)
    chat_id = body.get("chat_id")
    state.fail_next(
        _int(body, "count", 1),
        method=body.get("method"),
        chat_id=int(chat_id) if chat_id is not None else None,
        retry_after=_int(body, "retry_after", 1),
        error_code=_int(body, "error_code", 429),
        description=body.get("description"),
    )
    return {}


async def clear_faults(request: web.Request, state: StubState) -> dict[str, Any]:
    state.clear_faults()
    return {}


async def calls(request: web.Request, state: StubState) -> dict[str, Any]:
    method = request.query.get("method")
    chosen = state.calls_to(method) if method else state.calls
    return {
        "calls": [
            {
                "method": c.method,
                "params": c.params,
                "at": c.at,
                "wall": c.wall,
                "status": c.status,
                "description": c.description,
                "via": c.via,
            }
            for c in chosen
        ]
    }


async def download(request: web.Request) -> web.StreamResponse:
    """Files for the page's document links (the bot side needs the token; people do not)."""
    stored = request.app[STATE_KEY].files.get(request.match_info["file_id"])
    if stored is None:
        raise web.HTTPNotFound()
    disposition = f'attachment; filename="{(stored.file_name or "file").replace(chr(34), "")}"'
    return web.Response(
        body=stored.content,
        content_type=stored.mime_type or "application/octet-stream",
        headers={"Content-Disposition": disposition},
    )


def add_routes(app: web.Application) -> None:
    api = "/stub/api"
    app.router.add_post(f"{api}/send", _endpoint(send))
    app.router.add_post(f"{api}/press", _endpoint(press))
    app.router.add_post(f"{api}/upload", _endpoint(upload))
    app.router.add_get(f"{api}/chats/{{chat_id}}/messages", _endpoint(chat_messages))
    app.router.add_get(f"{api}/state", _endpoint(get_state))
    app.router.add_post(f"{api}/users", _endpoint(add_user))
    app.router.add_post(f"{api}/groups", _endpoint(add_group))
    app.router.add_post(f"{api}/faults", _endpoint(add_fault))
    app.router.add_delete(f"{api}/faults", _endpoint(clear_faults))
    app.router.add_get(f"{api}/calls", _endpoint(calls))
    app.router.add_get(f"{api}/files/{{file_id}}", download)
