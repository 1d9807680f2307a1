"""Mini App launches, the way a Telegram client makes them: signed initData in the URL's hash.

A client opening a Mini App (a ``web_app`` inline button, the chat menu button) loads its URL
with the launch parameters in the fragment, ``#tgWebAppData=<initData>&tgWebAppVersion=…
&tgWebAppPlatform=…``; telegram-web-app.js reads them from ``location.hash`` (each value
%-decoded once) and exposes ``Telegram.WebApp.initData``, the raw query string the Mini App
sends to its server. The signature is Telegram's (core.telegram.org/bots/webapps, "Validating
data received via the Mini App"): ``secret_key = HMAC_SHA256(key="WebAppData", msg=bot_token)``,
``hash = hex(HMAC_SHA256(key=secret_key, msg=data_check_string))``, the data-check-string being
every field but ``hash`` as ``key=value`` lines, sorted, joined by ``\\n``.

The chat page opens such buttons through ``GET /stub/webapp?from=<user id>&url=<url>``, which
signs a fresh initData for that person with the stand-in's bot token and redirects to the
launch URL. Only URLs the bot offered that person (a web_app button in their private chat, or
the menu button) are signed: the stand-in signs for its own bot, never for any page that asks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from .bot_api import STATE_KEY
from .models import StubUser
from .state import StubState

# What the page reports as the client (Telegram.WebApp.version / platform).
WEB_APP_VERSION = "8.0"
WEB_APP_PLATFORM = "web"
LAUNCH_PATH = "/stub/webapp"


def data_check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def sign_init_data(bot_token: str, user: dict[str, Any], auth_date: int, *,
                   query_id: str | None = None, extra: dict[str, str] | None = None) -> str:
    """A Mini App's initData (the raw query string of ``Telegram.WebApp.initData``) for
    ``user`` (a Telegram WebAppUser: id, first_name, username, language_code …), dated
    ``auth_date`` (Unix seconds), signed for the bot of ``bot_token``."""
    fields = {
        "auth_date": str(auth_date),
        "query_id": query_id or f"AAH{secrets.token_urlsafe(12)}",
        "user": json.dumps(user, ensure_ascii=False, separators=(",", ":")),
        **(extra or {}),
    }
    secret_key = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret_key, data_check_string(fields).encode(),
                              hashlib.sha256).hexdigest()
    return urlencode(fields, quote_via=quote)  # %20, not "+", as Telegram's clients send it


def web_app_user(user: StubUser) -> dict[str, Any]:
    """A stand-in person as initData's ``user`` field (a WebAppUser, not a Bot API User)."""
    data: dict[str, Any] = {"id": user.id, "first_name": user.first_name}
    for key in ("last_name", "username", "language_code"):
        if (value := getattr(user, key)) is not None:
            data[key] = value
    data["allows_write_to_pm"] = True
    return data


def launch_url(url: str, init_data: str) -> str:
    """``url`` as a client opens it: the launch parameters in its fragment."""
    base = url.split("#", 1)[0]
    return (f"{base}#tgWebAppData={quote(init_data, safe='')}"
            f"&tgWebAppVersion={WEB_APP_VERSION}&tgWebAppPlatform={WEB_APP_PLATFORM}")


def offered_urls(state: StubState, user_id: int) -> set[str]:
    """The Mini App URLs the bot gave ``user_id``: web_app buttons in their private chat and
    the menu button (theirs, or the default one)."""
    urls = {str(button["web_app"].get("url", "")) for message in state.messages(user_id)
            for button in message.buttons if isinstance(button.get("web_app"), dict)}
    for key in (user_id, None):
        menu = state.menu_buttons.get(key)
        if menu is not None and menu.get("type") == "web_app":
            urls.add(str((menu.get("web_app") or {}).get("url", "")))
    return urls


def launch_for(state: StubState, user_id: int, url: str, *, now: float | None = None) -> str:
    """The launch URL of ``url`` for the stand-in person ``user_id``, freshly signed."""
    user = state.user(user_id)
    auth_date = int(time.time() if now is None else now)
    init_data = sign_init_data(state.token, web_app_user(user), auth_date)
    return launch_url(url, init_data)


async def open_web_app(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    url = request.query.get("url", "")
    try:
        user_id = int(request.query.get("from", ""))
    except ValueError:
        raise web.HTTPBadRequest(text="from: the id of a stand-in person") from None
    if user_id not in state.users:
        raise web.HTTPNotFound(text=f"no stand-in person {user_id}")
    if not url.startswith(("http://", "https://")) or url not in offered_urls(state, user_id):
        raise web.HTTPForbidden(text="the bot offered this person no Mini App at this URL")
    # Not HTTPFound: it requotes the URL, and %26 in the fragment would turn into "&".
    return web.Response(status=302, headers={"Location": launch_for(state, user_id, url)})


def add_routes(app: web.Application) -> None:
    app.router.add_get(LAUNCH_PATH, open_web_app)
