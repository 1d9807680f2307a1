"""The web process's HTTP side: health, the tracked referral redirect, metrics and the Telegram
webhook. Routes are thin: parse → one service call → respond."""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from redis.asyncio import Redis
from tortoise import Tortoise

from services.referrals import ReferralService

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
UPDATE_SEEN_TTL_SECONDS = 24 * 3600  # Telegram retries an update for at most about a day

WEBHOOK_UPDATES = Counter("bot_webhook_updates_total", "Webhook requests", ["result"])
HTTP_SECONDS = Histogram("http_request_duration_seconds", "HTTP request latency",
                         ["route", "method", "status"])


@web.middleware
async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Latency per route pattern (never the raw path: /r/<code> would be a label per user)."""
    route = request.match_info.route.resource
    label = route.canonical if route is not None else "unmatched"
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        HTTP_SECONDS.labels(label, request.method, str(status)).observe(
            time.perf_counter() - started)


@dataclass(frozen=True)
class WebDeps:
    redis: Redis
    referrals: ReferralService
    redis_prefix: str
    bot: Bot | None = None
    dispatcher: Dispatcher | None = None
    webhook_secret: str | None = None


DEPS = web.AppKey("deps", WebDeps)


async def healthz(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    checks: dict[str, Any] = {}
    try:
        await Tortoise.get_connection("default").execute_query("SELECT 1")
        checks["postgres"] = "ok"
    except Exception as exc:  # report, do not crash the probe
        checks["postgres"] = f"error: {type(exc).__name__}"
    try:
        await deps.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return web.json_response({"status": "ok" if healthy else "error", **checks},
                             status=200 if healthy else 503)


async def referral_redirect(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    redirect = await deps.referrals.open(request.match_info["code"],
                                         request.headers.get("User-Agent"))
    if redirect is None:
        raise web.HTTPNotFound(text="This link is not valid.")
    raise web.HTTPFound(redirect.url)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def telegram_webhook(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    assert deps.bot is not None and deps.dispatcher is not None and deps.webhook_secret
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not hmac.compare_digest(given.encode(), deps.webhook_secret.encode()):
        WEBHOOK_UPDATES.labels("forbidden").inc()
        raise web.HTTPForbidden()
    try:
        update = Update.model_validate(await request.json(), context={"bot": deps.bot})
    except ValueError:
        WEBHOOK_UPDATES.labels("malformed").inc()
        raise web.HTTPBadRequest() from None
    # Telegram re-sends an update it got no 200 for; each one is handled once.
    first_time = await deps.redis.set(
        f"{deps.redis_prefix}:update:{update.update_id}", 1, nx=True, ex=UPDATE_SEEN_TTL_SECONDS
    )
    if not first_time:
        WEBHOOK_UPDATES.labels("duplicate").inc()
        return web.json_response({})
    await deps.dispatcher.feed_update(deps.bot, update)
    WEBHOOK_UPDATES.labels("handled").inc()
    return web.json_response({})


def create_web_app(deps: WebDeps) -> web.Application:
    app = web.Application(middlewares=[measure])
    app[DEPS] = deps
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/r/{code}", referral_redirect)
    if deps.webhook_secret:
        app.router.add_post(WEBHOOK_PATH, telegram_webhook)
    return app
