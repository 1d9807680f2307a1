"""getUpdates long polling and webhook configuration."""

from __future__ import annotations

import re
import time
from typing import Any

from .models import ApiError, WebhookConfig, bad_request
from .registry import Call, method

_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_MAX_POLL_TIMEOUT = 50.0  # Telegram caps long polling; keeps a stuck test from hanging


@method("getUpdates")
async def get_updates(call: Call) -> list[dict[str, Any]]:
    state = call.state
    if state.webhook is not None:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    state.confirm_updates(int(call.get("offset") or 0))
    if call.get("allowed_updates") is not None:
        state.allowed_updates = list(call.get("allowed_updates")) or None
    limit = max(1, min(int(call.get("limit") or 100), 100))
    deadline = time.monotonic() + min(float(call.get("timeout") or 0), _MAX_POLL_TIMEOUT)
    # Return as soon as an update arrives (or the server shuts down and wakes us).
    while not state.updates and not state.closing and state.webhook is None:
        if not await state.update_arrived.wait(deadline - time.monotonic()):
            break
    return state.updates[:limit] if state.webhook is None else []


@method("setWebhook")
async def set_webhook(call: Call) -> bool:
    state = call.state
    url = str(call.get("url") or "")
    secret = call.get("secret_token")
    if secret is not None and not _SECRET_RE.match(str(secret)):
        raise bad_request("secret token contains unallowed characters")
    if url and not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: invalid webhook URL specified")
    if call.get("drop_pending_updates"):
        state.updates.clear()
    if not url:
        state.webhook = None
    else:
        allowed = call.get("allowed_updates")
        state.webhook = WebhookConfig(
            url=url,
            secret_token=str(secret) if secret is not None else None,
            max_connections=int(call.get("max_connections") or 40),
            allowed_updates=list(allowed) if allowed else None,
        )
    state.update_arrived.fire()  # wake the delivery loop and any pending getUpdates
    return True


@method("deleteWebhook")
async def delete_webhook(call: Call) -> bool:
    if call.get("drop_pending_updates"):
        call.state.updates.clear()
    call.state.webhook = None
    call.state.update_arrived.fire()
    return True


@method("getWebhookInfo")
async def get_webhook_info(call: Call) -> dict[str, Any]:
    hook = call.state.webhook
    info: dict[str, Any] = {
        "url": hook.url if hook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(call.state.updates),
    }
    if hook is not None:
        info["max_connections"] = hook.max_connections
        if hook.allowed_updates:
            info["allowed_updates"] = hook.allowed_updates
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
    return info
