"""Signing in outside Telegram: the Login Widget sends the browser back to
/app/login/telegram with the fields Telegram signed; we check them (webapp/auth.py), use them
once, and set our session cookie. /app/logout ends it.

A widget answer is a bearer credential while it is fresh (a day, as initData): one copied from
a browser's history could sign in again. Each is accepted once: its hash is remembered in
Redis for as long as it would be valid.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from webapp.api.common import fallback_translator, plain
from webapp.api.deps import API
from webapp.auth import (
    AUTH_MESSAGES,
    IDENTITY,
    SESSION_COOKIE,
    AuthError,
    issue_session,
    session_cookie_kwargs,
    verify_login_widget,
)

LOGIN_MAX_AGE = web.AppKey("login_max_age", timedelta)
BOT_TOKEN = web.AppKey("login_bot_token", str)
CABINET = "/app/"


def _refused(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message, content_type="text/plain",
                        headers={"Cache-Control": "no-store"})


async def login_telegram(request: web.Request) -> web.Response:
    deps = request.app[API]
    max_age = request.app[LOGIN_MAX_AGE]
    try:
        telegram = verify_login_widget(request.query, request.app[BOT_TOKEN], max_age=max_age,
                                       now=deps.clock())
    except AuthError as exc:
        return _refused(401, AUTH_MESSAGES[exc.code])
    fresh = await deps.redis.set(f"{deps.redis_prefix}:login:{request.query['hash']}", "1",
                                 nx=True, ex=int(max_age.total_seconds()) + 60)
    if not fresh:
        return _refused(401, AUTH_MESSAGES["replayed"])
    user = await deps.users.get(telegram.user_id)
    if user is None:
        t = fallback_translator(request)
        return _refused(403, plain(t("api.error.not_registered")))
    response = web.HTTPFound(CABINET)
    response.set_cookie(SESSION_COOKIE, issue_session(user.id, deps.session_secret,
                                                      deps.clock()),
                        **session_cookie_kwargs(deps.secure_cookies, max_age=max_age))
    response.headers["Cache-Control"] = "no-store"
    raise response


async def logout(request: web.Request) -> web.Response:
    """A POST with the session's CSRF token (the middleware checked it)."""
    if request.get(IDENTITY) is None:
        return _refused(401, AUTH_MESSAGES["missing"])
    response = web.HTTPFound(CABINET)
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


def setup_login(app: web.Application, bot_token: str, max_age: timedelta) -> None:
    app[BOT_TOKEN] = bot_token
    app[LOGIN_MAX_AGE] = max_age
    app.router.add_get("/app/login/telegram", login_telegram)
    app.router.add_post("/app/logout", logout)
