"""Webhook delivery: while a webhook is set, POST queued updates to it one at a time.

Like Telegram, a failed delivery keeps the update queued and is retried (after
``state.webhook_retry_delay``), and the webhook's HTTP response may itself carry one Bot
API call (aiogram's ``handle_in_background=False`` replies that way).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aiohttp

from .bot_api import execute
from .params import Upload, decode_value
from .state import StubState

log = logging.getLogger(__name__)
_IDLE_RECHECK = 1.0  # seconds; a safety net in case a wake-up signal is missed
_DELIVERY_TIMEOUT = aiohttp.ClientTimeout(total=30)


class WebhookDeliverer:
    def __init__(self, state: StubState) -> None:
        self.state = state

    async def run(self) -> None:
        """Deliver forever; cancelled by the server on shutdown."""
        async with aiohttp.ClientSession(timeout=_DELIVERY_TIMEOUT) as session:
            while not self.state.closing:
                hook = self.state.webhook
                if hook is None or not self.state.updates:
                    await self.state.update_arrived.wait(_IDLE_RECHECK)
                    continue
                update = self.state.updates[0]
                error = await self._deliver(session, hook.url, hook.secret_token, update)
                if error is None:
                    hook.delivered += 1
                    self.state.updates = [
                        u for u in self.state.updates if u["update_id"] != update["update_id"]
                    ]
                    continue
                hook.last_error_date, hook.last_error_message = int(time.time()), error
                log.info("webhook delivery of update %s failed: %s", update["update_id"], error)
                await asyncio.sleep(self.state.webhook_retry_delay)

    async def _deliver(
        self,
        session: aiohttp.ClientSession,
        url: str,
        secret: str | None,
        update: dict[str, Any],
    ) -> str | None:
        """POST one update; None on success, else Telegram-style last_error_message."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        try:
            async with session.post(url, json=update, headers=headers) as response:
                if response.status >= 300:
                    return f"Wrong response from the webhook: {response.status} {response.reason}"
                reply = await _read_reply(response)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"Connection failed: {type(exc).__name__}"
        if reply is not None:
            method, params, files = reply
            await execute(self.state, method, params, files, via="webhook-response")
        return None


async def _read_reply(
    response: aiohttp.ClientResponse,
) -> tuple[str, dict[str, Any], dict[str, Upload]] | None:
    """A Bot API call carried in the webhook response body (JSON or multipart), if any."""
    params: dict[str, Any] = {}
    files: dict[str, Upload] = {}
    if response.content_type == "multipart/form-data":
        reader = aiohttp.MultipartReader(response.headers, response.content)
        while (part := await reader.next()) is not None:
            if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                continue
            raw = await part.read()
            if part.filename:
                files[part.name] = Upload(part.filename, bytes(raw), None)
            else:
                params[part.name] = decode_value(part.name, raw.decode())
    else:
        body = await response.read()
        try:
            decoded = json.loads(body) if body.strip() else {}
        except ValueError:
            return None
        params = decoded if isinstance(decoded, dict) else {}
    method = params.pop("method", None)
    return (str(method), params, files) if method else None
