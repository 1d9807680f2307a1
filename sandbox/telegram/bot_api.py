"""The bot side of the stub: ``/bot{token}/{method}`` and ``/file/bot{token}/{path}``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

# Imported for their @method registrations.
from . import methods_messages, methods_misc, methods_updates  # noqa: F401
from .models import ApiError
from .params import Upload, loggable, read_params
from .registry import METHODS, Call
from .state import StubState

STATE_KEY: web.AppKey[StubState] = web.AppKey("telegram_stub_state", StubState)


def _chat_id_of(params: dict[str, Any]) -> int | None:
    try:
        return int(params["chat_id"])
    except (KeyError, TypeError, ValueError):
        return None


async def execute(
    state: StubState,
    method: str,
    params: dict[str, Any],
    files: dict[str, Upload],
    via: str = "http",
) -> tuple[int, dict[str, Any]]:
    """Run one Bot API call and return (HTTP status, Telegram-shaped body); logs the call."""
    record = state.record_call(method, loggable(params, files), via)
    try:
        handler = METHODS.get(method.lower())
        if handler is None:
            raise ApiError(404, "Not Found")
        state.check_faults(method, _chat_id_of(params))
        result = await handler(Call(state, method, params, files))
    except ApiError as exc:
        record.status, record.description = exc.error_code, exc.description
        return exc.error_code, exc.to_json()
    return 200, {"ok": True, "result": result}


async def handle_method(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if request.match_info["token"] != state.token:
        return web.json_response(
            {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
        )
    try:
        params, files = await read_params(request)
    except ApiError as exc:
        return web.json_response(exc.to_json(), status=exc.error_code)
    status, body = await execute(state, request.match_info["method"], params, files)
    return web.json_response(body, status=status)


async def handle_file(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if request.match_info["token"] != state.token:
        return web.json_response(
            {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
        )
    stored = state.file_by_path(request.match_info["path"])
    if stored is None:
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )
    return web.Response(
        body=stored.content, content_type=stored.mime_type or "application/octet-stream"
    )


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", "/bot{token}/{method}", handle_method)
    app.router.add_get("/file/bot{token}/{path:.+}", handle_file)
