"""The web process's HTTP side: health, the tracked referral redirect, metrics and the Telegram
webhook. Routes are thin: parse → one service call → respond."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import json
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from redis.asyncio import Redis
from tortoise import Tortoise

from services.health import heartbeat_age, is_stale
from services.i18n import Catalog
from services.outages import TELEGRAM_REDELIVERS, is_store_outage
from services.rate_card import RateCardService
from services.referrals import ReferralService
from webapp.api import setup_api
from webapp.api.common import api_errors
from webapp.api.deps import ApiDeps
from webapp.auth import auth_middleware
from webapp.login import setup_login
from webapp.pages import setup_pages
from webapp.public import setup_public

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
UPDATE_SEEN_TTL_SECONDS = 24 * 3600  # Telegram retries an update for at most about a day
UPDATE_CLAIM_SECONDS = 120  # a claim of a delivery being handled (freed early if it fails)
MAX_JSON_DEPTH = 32  # a real Update nests about 8 deep (a reply's message's entities …)
MAX_BODY_BYTES = 1024 * 1024  # Telegram's updates are far smaller
HEALTH_PROBE_SECONDS = 2.0

WEBHOOK_UPDATES = Counter("bot_webhook_updates_total", "Webhook requests", ["result"])
HTTP_SECONDS = Histogram("http_request_duration_seconds", "HTTP request latency",
                         ["route", "method", "status"])


# The histogram's series by (route, method, status): prometheus_client's labels() looks one up
# under a lock each time.
_SERIES: dict[tuple[str, str, int], Any] = {}


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
        key = (label, request.method, status)
        series = _SERIES.get(key)
        if series is None:  # a few dozen routes × methods × statuses
            series = _SERIES[key] = HTTP_SECONDS.labels(label, request.method, str(status))
        series.observe(time.perf_counter() - started)


@web.middleware
async def store_outage(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A store that is down is a 503 "try again" (a tracked link clicked during a database
    restart), not a 500."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        if not is_store_outage(exc):
            raise
        log.warning("%s %s: a store is unavailable (%s)", request.method,
                    request.match_info.route.resource.canonical
                    if request.match_info.route.resource else "?", type(exc).__name__)
        raise web.HTTPServiceUnavailable(
            text="Temporarily unavailable. Please try again in a minute.",
            headers={"Retry-After": "30"}) from None


@dataclass(frozen=True)
class WebDeps:
    redis: Redis
    referrals: ReferralService
    redis_prefix: str
    bot: Bot | None = None
    dispatcher: Dispatcher | None = None
    webhook_secret: str | None = None
    # The public pages (webapp/public.py) are served when these two are given.
    rate_card: RateCardService | None = None
    i18n: Catalog | None = None
    bot_username: str | None = None
    # The Mini App (pages under /app/, JSON API under /api/) is served when ``api`` is given;
    # its users are checked against the bot's token (initData, the Login Widget).
    api: ApiDeps | None = None
    bot_token: str | None = None
    auth_max_age: timedelta = timedelta(days=1)


DEPS = web.AppKey("deps", WebDeps)


async def _probe(name: str, check: Awaitable[Any], checks: dict[str, Any]) -> None:
    try:
        await asyncio.wait_for(check, HEALTH_PROBE_SECONDS)
        checks[name] = "ok"
    except Exception as exc:  # report, do not crash the probe
        checks[name] = f"error: {type(exc).__name__}"


async def healthz(request: web.Request) -> web.Response:
    """200 while this process can serve (its stores answer); the worker's heartbeat is reported
    beside them ("degraded" when it is stale): restarting the web process would not help it."""
    deps = request.app[DEPS]
    checks: dict[str, Any] = {}
    await _probe("postgres", Tortoise.get_connection("default").execute_query("SELECT 1"),
                 checks)
    await _probe("redis", deps.redis.ping(), checks)
    healthy = all(value == "ok" for value in checks.values())
    worker: dict[str, Any] = {"status": "unknown"}
    if checks["redis"] == "ok":
        with contextlib.suppress(Exception):
            age = await heartbeat_age(deps.redis, deps.redis_prefix)
            worker = {"status": "stale" if is_stale(age) else "ok",
                      "heartbeat_age_seconds": None if age is None else round(age, 1)}
    status = "error" if not healthy else "ok" if worker["status"] == "ok" else "degraded"
    return web.json_response({"status": status, **checks, "worker": worker},
                             status=200 if healthy else 503)


async def referral_redirect(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    redirect = await deps.referrals.open(request.match_info["code"],
                                         request.headers.get("User-Agent"))
    if redirect is None:
        raise web.HTTPNotFound(text="This link is not valid.")
    raise web.HTTPFound(redirect.url)


async def metrics(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    with contextlib.suppress(Exception):  # the gauge keeps its last value while Redis is down
        await asyncio.wait_for(heartbeat_age(deps.redis, deps.redis_prefix),
                               HEALTH_PROBE_SECONDS)
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _too_deep(value: Any, limit: int) -> bool:
    """True if ``value`` nests lists/objects deeper than ``limit`` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(
            item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


async def _read_update(request: web.Request, bot: Bot) -> Update:
    """The request's Update, or a 4xx: over the size limit (413, by aiohttp), not JSON, nested
    beyond reason (json.loads recurses: a deep body would be a RecursionError, a 500), or not
    an Update."""
    try:
        body = json.loads(await request.read())
    except (ValueError, RecursionError):
        WEBHOOK_UPDATES.labels("malformed").inc()
        raise web.HTTPBadRequest(text="not JSON") from None
    if not isinstance(body, dict) or _too_deep(body, MAX_JSON_DEPTH):
        WEBHOOK_UPDATES.labels("malformed").inc()
        raise web.HTTPBadRequest(text="not an update")
    try:
        return Update.model_validate(body, context={"bot": bot})
    except (ValueError, RecursionError):
        WEBHOOK_UPDATES.labels("malformed").inc()
        raise web.HTTPBadRequest(text="not an update") from None


async def telegram_webhook(request: web.Request) -> web.Response:
    """One update from Telegram. It is handled once: a marker is claimed while it is handled
    and kept once it was. An update that met a store outage gets a 503 (its sender was told to
    try again) and its claim is released, so that Telegram's re-delivery is handled."""
    deps = request.app[DEPS]
    assert deps.bot is not None and deps.dispatcher is not None and deps.webhook_secret
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not hmac.compare_digest(given.encode(), deps.webhook_secret.encode()):
        WEBHOOK_UPDATES.labels("forbidden").inc()
        raise web.HTTPForbidden()
    update = await _read_update(request, deps.bot)
    key = f"{deps.redis_prefix}:update:{update.update_id}"
    try:
        claimed = await deps.redis.set(key, "handling", nx=True, ex=UPDATE_CLAIM_SECONDS)
        if not claimed:
            if await deps.redis.get(key) == b"done":
                WEBHOOK_UPDATES.labels("duplicate").inc()
                return web.json_response({})
            WEBHOOK_UPDATES.labels("in_progress").inc()  # another delivery is on it right now
            raise web.HTTPServiceUnavailable(headers={"Retry-After": "5"})
    except web.HTTPException:
        raise
    except Exception as exc:
        if not is_store_outage(exc):
            raise
        # Redis is down: the update cannot be de-duplicated, and the dispatcher (whose state
        # lives in Redis) will tell its sender we are unavailable and fail it.
    try:
        await deps.dispatcher.feed_update(deps.bot, update, **{TELEGRAM_REDELIVERS: True})
    except Exception as exc:
        if not is_store_outage(exc):  # a bug: logged, and not handled again on re-delivery
            log.exception("update %s failed", update.update_id)
            await _mark(deps.redis, key, "done")
            WEBHOOK_UPDATES.labels("failed").inc()
            return web.json_response({})
        with contextlib.suppress(Exception):
            await deps.redis.delete(key)
        WEBHOOK_UPDATES.labels("store_unavailable").inc()
        raise web.HTTPServiceUnavailable(headers={"Retry-After": "10"}) from None
    await _mark(deps.redis, key, "done")
    WEBHOOK_UPDATES.labels("handled").inc()
    return web.json_response({})


async def _mark(redis: Redis, key: str, value: str) -> None:
    try:
        await redis.set(key, value, ex=UPDATE_SEEN_TTL_SECONDS)
    except Exception as exc:  # handled already: a lost marker costs at most one re-handling
        log.warning("could not mark update %s as handled: %s", key, exc)


def create_web_app(deps: WebDeps) -> web.Application:
    # Outermost first: every answer is measured; an /api/ failure (a store outage included)
    # is JSON; identity is known before any /api/ or /app/ handler runs.
    middlewares: list[Middleware] = [measure, api_errors, store_outage]
    if deps.api is not None:
        assert deps.bot_token, "the Mini App checks initData against the bot's token"
        token = deps.bot_token
        middlewares.append(auth_middleware(
            lambda: token, deps.api.session_secret, deps.auth_max_age, deps.api.clock))
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY_BYTES)
    app[DEPS] = deps
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/r/{code}", referral_redirect)
    if deps.webhook_secret:
        app.router.add_post(WEBHOOK_PATH, telegram_webhook)
    setup_public(app, deps)
    if deps.api is not None:
        assert deps.bot_token
        setup_api(app, deps.api)
        setup_login(app, deps.bot_token, deps.auth_max_age)
        setup_pages(app, deps)  # the cabinet's pages, filled by /static/app.js from the API
    app.on_startup.append(freeze_start_objects)
    return app


async def freeze_start_objects(app: web.Application) -> None:
    """What the process loaded to start (catalogs, Tortoise's models, babel's locale data,
    the routes) lives as long as the process: moved out of the garbage collector's sight, so
    the full collections that requests' garbage triggers do not walk it every time (they were
    the Mini App dashboard's slowest answers under load, bench/bench_miniapp.py)."""
    gc.collect()
    gc.freeze()
