"""Decode a Bot API request (query string, JSON, urlencoded or multipart) into typed params.

aiogram sends every field as a form string, JSON-encoding objects and numbers, so the stub
JSON-decodes every field except those that are strings in the Bot API (a text of "123"
must stay a string).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from .models import bad_request

STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "url",
        "secret_token",
        "file_id",
        "action",
        "inline_message_id",
        "ip_address",
        "language_code",
        "description",
        "short_description",
        "name",
        "title",
        "business_connection_id",
        "message_effect_id",
        "document",
        "photo",
        "thumbnail",
        "emoji",
        "data",
        "from",
        "certificate",
    }
)


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    content: bytes
    content_type: str | None


def decode_value(key: str, value: Any) -> Any:
    if not isinstance(value, str) or key in STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id="@channel"


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    params: dict[str, Any] = {k: decode_value(k, v) for k, v in request.query.items()}
    files: dict[str, Upload] = {}
    if not request.can_read_body:
        return params, files
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise bad_request("can't parse JSON") from exc
        if not isinstance(body, dict):
            raise bad_request("JSON body must be an object")
        params.update(body)
        return params, files
    form: MultiMapping[Any] = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            files[key] = Upload(value.filename, value.file.read(), value.content_type)
        else:
            params[key] = decode_value(key, value)
    return params, files


def loggable(params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
    """Params for the call log: uploads summarised instead of kept as bytes."""
    logged = dict(params)
    for key, upload in files.items():
        logged[key] = {"filename": upload.filename, "size": len(upload.content)}
    return logged
