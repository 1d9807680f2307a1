"""``Idempotency-Key`` on every write: the same key with the same body gets the first answer
again, without doing the write twice (a phone that lost the answer and retries).

The key is claimed in Redis before the write runs and the answer kept for a day after. A key
sent again while its first request still runs is a 409; with another body, a 422 (a client
bug: one key per user action). A write that failed with a 5xx frees its key, so the retry
runs. Where a lost answer would cost money (a withdrawal) the service itself is idempotent
by the same key, so even a Redis that forgot the key cannot make it twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from redis.asyncio import Redis

from services.i18n import Translator
from webapp.api.common import ApiError, plain

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
REMEMBER_SECONDS = 24 * 3600
CLAIM_SECONDS = 120  # longer than any write takes; a crashed request frees its key by then
_RUNNING = "running"


def request_key(request: web.Request, t: Translator) -> str:
    key = request.headers.get(HEADER, "").strip()
    if not key:
        raise ApiError(400, "idempotency_key_required",
                       plain(t("api.error.idempotency_key_required")))
    if not KEY_PATTERN.fullmatch(key):
        raise ApiError(400, "idempotency_key_invalid",
                       plain(t("api.error.idempotency_key_invalid")))
    return key


async def _fingerprint(request: web.Request) -> str:
    body = await request.read()
    return hashlib.sha256(
        request.method.encode() + b" " + request.path_qs.encode() + b"\n" + body).hexdigest()


async def once(request: web.Request, redis: Redis, prefix: str, user_id: int, t: Translator,
               write: Callable[[str], Awaitable[web.Response]]) -> web.Response:
    """Run ``write(key)`` at most once per (user, Idempotency-Key); replay its answer."""
    key = request_key(request, t)
    fingerprint = await _fingerprint(request)
    slot = f"{prefix}:idem:{user_id}:{key}"
    claimed = await redis.set(slot, json.dumps({"state": _RUNNING, "fp": fingerprint}),
                              nx=True, ex=CLAIM_SECONDS)
    if not claimed:
        kept = json.loads(await redis.get(slot) or b'{"state": "gone"}')
        if kept.get("fp") not in (None, fingerprint):
            raise ApiError(422, "idempotency_key_reused",
                           plain(t("api.error.idempotency_key_reused")))
        if kept.get("state") != "done":
            raise ApiError(409, "request_in_progress", plain(t("api.error.request_in_progress")))
        response = web.Response(status=kept["status"], body=kept["body"].encode(),
                                content_type=kept["content_type"])
        response.headers["Idempotent-Replayed"] = "true"
        return response
    try:
        response = await write(key)
    except ApiError as exc:
        if exc.status >= 500:
            await redis.delete(slot)
            raise
        # A refusal is an answer too: the same request gets the same refusal.
        await _keep(redis, slot, fingerprint, exc.status, json.dumps(
            {"error": {"code": exc.code, "message": exc.message, "field": exc.field}}),
            "application/json")
        raise
    except BaseException:
        await redis.delete(slot)
        raise
    if response.status >= 500:
        await redis.delete(slot)
        return response
    body = response.body
    text = body.decode() if isinstance(body, bytes) else ""
    await _keep(redis, slot, fingerprint, response.status, text,
                response.content_type or "application/json")
    return response


async def _keep(redis: Redis, slot: str, fingerprint: str, status: int, body: str,
                content_type: str) -> None:
    await redis.set(slot, json.dumps({"state": "done", "fp": fingerprint, "status": status,
                                      "body": body, "content_type": content_type}),
                    ex=REMEMBER_SECONDS)
