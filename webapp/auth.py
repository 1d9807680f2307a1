"""Who is asking: the Mini App's signed initData, Telegram's Login Widget, and the browser session.

The user comes only from data Telegram signed (``Authorization: tma <initData>``, or the Login
Widget's fields once, at sign-in) or from our own signed session cookie issued after that
sign-in; never from a query parameter or a body field.

What Telegram documents, and how it is read here:

- Mini App (core.telegram.org/bots/webapps, "Validating data received via the Mini App"):
  ``secret_key = HMAC_SHA256(key="WebAppData", msg=bot_token)``; ``hash`` must be the hex
  ``HMAC_SHA256(key=secret_key, msg=data_check_string)``, where the data-check-string is "a
  chain of all received fields, sorted alphabetically, in the format key=<value>" joined by
  ``\\n``. Only ``hash`` is left out. The newer ``signature`` field (an Ed25519 signature, "of
  all passed parameters (except hash)") stays in: the docs leave out both ``hash`` and
  ``signature`` only for the third-party (Ed25519) check, which this module does not do.
  (aiogram's ``check_webapp_signature`` reads it the same way: it drops ``hash`` only.)
- Login Widget (core.telegram.org/widgets/login, "Checking authorization"): the same
  data-check-string of all received fields but ``hash``, and ``secret_key = SHA256(bot_token)``.
- Both: "to prevent the use of outdated data" check ``auth_date``. Telegram sets no limit; ours
  is ``max_age`` (MINIAPP_AUTH_MAX_AGE_SECONDS, a day by default), and a date more than
  ``CLOCK_SKEW`` ahead of our clock is refused (clocks of Telegram and this host differ a bit).

The session cookie is ``1.<user id>.<issued at>.<HMAC>`` (HMAC-SHA256 with a key derived from
the master secret): tamper-proof, readable without a store, valid for ``max_age`` after it
was issued. It cannot be revoked before then (there is no server-side list). Forms and unsafe
API calls made with it carry a CSRF token bound to it (``X-CSRF-Token`` or the ``csrf`` field);
initData in the Authorization header needs none (a browser does not send it on its own).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, NamedTuple
from urllib.parse import unquote

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import Counter

log = logging.getLogger(__name__)

AuthErrorCode = Literal["missing", "malformed", "bad_signature", "expired", "from_the_future",
                        "no_user", "csrf", "replayed"]

AUTH_MESSAGES: dict[AuthErrorCode, str] = {
    "missing": "Sign in first: no Telegram data and no session were sent.",
    "malformed": "The sign-in data cannot be read.",
    "bad_signature": "The sign-in data is not signed by Telegram for this bot.",
    "expired": "The sign-in data is too old: open the app again.",
    "from_the_future": "The sign-in data is dated in the future: check the device's clock.",
    "no_user": "The sign-in data names no user.",
    "csrf": "The form is out of date or was not sent by this site: reload the page.",
    "replayed": "This sign-in was used already: sign in with Telegram again.",
}

# Telegram's clock and ours differ a little: an auth_date this far ahead still counts as now.
CLOCK_SKEW = timedelta(seconds=60)
SESSION_COOKIE = "cr_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
PROTECTED_PREFIXES = ("/api/", "/app/")
# Under those prefixes but open to all: the API's description (it names no data).
PUBLIC_PATHS = frozenset({"/api/openapi.json"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# A real initData has about 6 fields (a dozen at most); more is not Telegram's.
MAX_INIT_DATA_FIELDS = 32
MAX_INIT_DATA_CHARS = 16 * 1024

_HASH = re.compile(r"[0-9a-fA-F]{64}")
_UNIX_TIME = re.compile(r"[0-9]{1,10}")  # up to the year 2286 (datetime ends at 9999)
_USER_ID = re.compile(r"[1-9][0-9]{0,19}")
_SESSION = re.compile(r"1\.([1-9][0-9]{0,19})\.([0-9]{1,10})\.([A-Za-z0-9_-]{43})")
_SESSION_KEY_LABEL = b"cryptorebate/web-session/v1"
_CSRF_KEY_LABEL = b"cryptorebate/csrf/v1"

AUTH_FAILURES = Counter("web_auth_failures_total", "Requests refused by authentication",
                        ["code"])


class AuthError(Exception):
    """Authentication failed; ``code`` is stable (clients and tests match on it)."""

    def __init__(self, code: AuthErrorCode) -> None:
        super().__init__(code)
        self.code: AuthErrorCode = code

    @property
    def message(self) -> str:
        return AUTH_MESSAGES[self.code]


# NamedTuples, not frozen dataclasses: made on every API request, and a frozen dataclass sets
# each field through object.__setattr__ (several times slower to make).
class TelegramIdentity(NamedTuple):
    """The user as Telegram signed it (Mini App initData or the Login Widget)."""

    user_id: int
    first_name: str
    username: str | None
    language_code: str | None
    auth_date: datetime


class RequestIdentity(NamedTuple):
    """Who made a request: from initData (``telegram`` set) or from the session cookie (then
    only the user id is known; ``session`` is the cookie's value, for csrf_token)."""

    user_id: int
    via: Literal["init_data", "session"]
    telegram: TelegramIdentity | None = None
    session: str | None = None


# Set on /api/ and /app/ requests: the identity (None on an /app/ page reached without one)
# and, when it is None, why (an AuthErrorCode).
IDENTITY = web.RequestKey[RequestIdentity | None]("identity")
AUTH_ERROR = web.RequestKey[AuthErrorCode | None]("auth_error")


# --- Telegram's signed data --------------------------------------------------------------


def _data_check_string(fields: Mapping[str, str]) -> bytes:
    return "\n".join([f"{key}={value}" for key, value in sorted(fields.items())
                      if key != "hash"]).encode()


def _check_hash(fields: Mapping[str, str], secret_key: bytes) -> None:
    given = fields.get("hash")
    if given is None or not _HASH.fullmatch(given):
        raise AuthError("malformed")
    expected = hmac.digest(secret_key, _data_check_string(fields), "sha256")
    if not hmac.compare_digest(expected, bytes.fromhex(given)):
        raise AuthError("bad_signature")


def _auth_date(value: str | None, *, max_age: timedelta, now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if value is None or not _UNIX_TIME.fullmatch(value):
        raise AuthError("malformed")
    auth_date = datetime.fromtimestamp(int(value), tz=UTC)
    if auth_date - now > CLOCK_SKEW:
        raise AuthError("from_the_future")
    if now - auth_date > max_age:
        raise AuthError("expired")
    return auth_date


def _optional_text(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise AuthError("malformed")
    return value or None


@lru_cache(maxsize=4)
def _webapp_secret(bot_token: str) -> bytes:
    """The Mini App's secret key of a bot token (the same for every request)."""
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def _query_fields(query: str) -> dict[str, str]:
    """The fields of a query string (``key=value`` pairs joined by ``&``, %-escapes in UTF-8
    and ``+`` for a space, as application/x-www-form-urlencoded has them), read as strictly as
    ``urllib.parse.parse_qsl(strict_parsing=True, errors="strict")`` does; AuthError
    ("malformed") for a part without ``=``, bad UTF-8 after decoding, more than
    MAX_INIT_DATA_FIELDS fields or a field given twice (which of its values would the
    signature be about?). Written out because parse_qsl, general as it is, took a third of a
    Mini App request's sign-in check; only a value with an escape is decoded (the user's
    JSON, most often alone)."""
    parts = query.split("&")
    if len(parts) > MAX_INIT_DATA_FIELDS:
        raise AuthError("malformed")
    fields: dict[str, str] = {}
    for part in parts:
        key, equals, value = part.partition("=")
        if not equals:
            raise AuthError("malformed")
        try:
            if "%" in key or "+" in key:
                key = unquote(key.replace("+", " "), errors="strict")
            if "%" in value or "+" in value:
                value = unquote(value.replace("+", " "), errors="strict")
        except UnicodeDecodeError:
            raise AuthError("malformed") from None
        if key in fields:
            raise AuthError("malformed")
        fields[key] = value
    return fields


def verify_init_data(init_data: str, bot_token: str, *, max_age: timedelta,
                     now: datetime) -> TelegramIdentity:
    """The user of a Mini App's ``Telegram.WebApp.initData`` (the raw query string), if
    Telegram signed it for this bot and it is fresh; else AuthError."""
    if not init_data:
        raise AuthError("missing")
    if len(init_data) > MAX_INIT_DATA_CHARS:
        raise AuthError("malformed")
    fields = _query_fields(init_data)
    _check_hash(fields, _webapp_secret(bot_token))
    auth_date = _auth_date(fields.get("auth_date"), max_age=max_age, now=now)
    if "user" not in fields:
        raise AuthError("no_user")
    try:
        user = json.loads(fields["user"])
    except (ValueError, RecursionError):
        raise AuthError("malformed") from None
    if not isinstance(user, dict):
        raise AuthError("malformed")
    user_id, first_name = user.get("id"), user.get("first_name")
    if type(user_id) is not int or user_id <= 0 or not isinstance(first_name, str):
        raise AuthError("malformed")
    return TelegramIdentity(user_id=user_id, first_name=first_name,
                            username=_optional_text(user.get("username")),
                            language_code=_optional_text(user.get("language_code")),
                            auth_date=auth_date)


def verify_login_widget(fields: Mapping[str, str], bot_token: str, *, max_age: timedelta,
                        now: datetime) -> TelegramIdentity:
    """The user of the Login Widget's fields (the data-auth-url query, or the data-onauth
    object with every value as a string), if Telegram signed them for this bot and they are
    fresh; else AuthError. A MultiDict with a repeated field is malformed."""
    pairs = list(fields.items())
    if not pairs:
        raise AuthError("missing")
    checked = dict(pairs)
    if len(checked) != len(pairs) or not all(isinstance(v, str) for v in checked.values()):
        raise AuthError("malformed")
    _check_hash(checked, hashlib.sha256(bot_token.encode()).digest())
    auth_date = _auth_date(checked.get("auth_date"), max_age=max_age, now=now)
    if "id" not in checked:
        raise AuthError("no_user")
    user_id, first_name = checked["id"], checked.get("first_name")
    if not _USER_ID.fullmatch(user_id) or first_name is None:
        raise AuthError("malformed")
    return TelegramIdentity(user_id=int(user_id), first_name=first_name,
                            username=checked.get("username") or None, language_code=None,
                            auth_date=auth_date)


# --- Our session and CSRF tokens ---------------------------------------------------------


def _subkey(secret: bytes, label: bytes) -> bytes:
    """A key for one purpose only: the master secret also signs tracked links."""
    if not secret:
        raise ValueError("an empty secret signs nothing")
    return hmac.new(secret, label, hashlib.sha256).digest()


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_session(user_id: int, secret: bytes, now: datetime) -> str:
    """A session cookie's value for ``user_id``, signed, dated ``now``."""
    if user_id <= 0:
        raise ValueError("a Telegram user id is positive")
    body = f"1.{user_id}.{int(now.timestamp())}"
    return f"{body}.{_mac(_subkey(secret, _SESSION_KEY_LABEL), body)}"


def read_session(cookie: str, secret: bytes, max_age: timedelta, now: datetime) -> int:
    """The user id of a session cookie issued by issue_session less than ``max_age`` ago;
    else AuthError (malformed, bad_signature, expired, from_the_future)."""
    if not cookie:
        raise AuthError("missing")
    match = _SESSION.fullmatch(cookie)
    if match is None:
        raise AuthError("malformed")
    body = cookie[: match.start(3) - 1]
    expected = _mac(_subkey(secret, _SESSION_KEY_LABEL), body)
    if not hmac.compare_digest(expected.encode(), match[3].encode()):
        raise AuthError("bad_signature")
    _auth_date(match[2], max_age=max_age, now=now)
    return int(match[1])


def session_cookie_kwargs(secure: bool, *, max_age: timedelta | None = None) -> dict[str, Any]:
    """``response.set_cookie(SESSION_COOKIE, value, **session_cookie_kwargs(...))``: out of
    reach of scripts, not sent on cross-site subrequests or form posts (Lax still sends it when
    a link to the cabinet is followed), HTTPS-only when ``secure`` (production)."""
    kwargs: dict[str, Any] = {"httponly": True, "samesite": "Lax", "secure": secure,
                              "path": "/"}
    if max_age is not None:
        kwargs["max_age"] = int(max_age.total_seconds())
    return kwargs


def csrf_token(session_value: str, secret: bytes) -> str:
    """The CSRF token of a session (the same for the session's whole life; another session,
    another token). Put it in every form (field ``csrf``) and in ``X-CSRF-Token``."""
    return _mac(_subkey(secret, _CSRF_KEY_LABEL), session_value)


def check_csrf(token: str | None, session_value: str, secret: bytes) -> bool:
    if not token:
        return False
    return hmac.compare_digest(token.encode(), csrf_token(session_value, secret).encode())


# --- The middleware ----------------------------------------------------------------------


def _protected(path: str) -> bool:
    if path in PUBLIC_PATHS:
        return False
    return path.startswith(PROTECTED_PREFIXES) or path in ("/api", "/app")


def _refusal(code: AuthErrorCode) -> web.Response:
    status = 403 if code == "csrf" else 401
    headers = {"WWW-Authenticate": "tma"} if status == 401 else None
    return web.json_response({"error": {"code": code, "message": AUTH_MESSAGES[code],
                                        "field": None}},
                             status=status, headers=headers)


async def _sent_csrf_token(request: web.Request) -> str | None:
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.content_type in ("application/x-www-form-urlencoded",
                                                  "multipart/form-data"):
        field = (await request.post()).get(CSRF_FIELD)  # kept: the handler reads it again
        token = field if isinstance(field, str) else None
    return token


def auth_middleware(bot_token_getter: Callable[[], str], secret: bytes, max_age: timedelta,
                    clock: Callable[[], datetime], *,
                    session_max_age: timedelta | None = None) -> Middleware:
    """Sets ``request[IDENTITY]`` (a RequestIdentity) for paths under /api/ and /app/, from
    ``Authorization: tma <initData>`` or else the session cookie; other paths are left alone.

    On /api/ a request without a valid identity gets a JSON 401 ``{"error": {"code",
    "message"}}``. On /app/ (pages: the Mini App's first load carries no initData, a browser
    not signed in is shown the Login Widget) the handler decides: ``request[IDENTITY]`` is
    None and ``request[AUTH_ERROR]`` says why. An unsafe method with a cookie session needs
    the session's CSRF token (403 ``csrf`` otherwise), on both."""
    session_age = session_max_age or max_age

    def identify(request: web.Request, now: datetime) -> RequestIdentity:
        authorization = request.headers.get("Authorization")
        if authorization is not None:
            scheme, _, init_data = authorization.partition(" ")
            if scheme.lower() != "tma":
                raise AuthError("malformed")
            telegram = verify_init_data(init_data.strip(), bot_token_getter(), max_age=max_age,
                                        now=now)
            return RequestIdentity(user_id=telegram.user_id, via="init_data", telegram=telegram)
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise AuthError("missing")
        user_id = read_session(cookie, secret, session_age, now)
        return RequestIdentity(user_id=user_id, via="session", session=cookie)

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _protected(request.path):
            return await handler(request)
        is_api = not request.path.startswith("/app")
        try:
            identity: RequestIdentity | None = identify(request, clock())
            error: AuthErrorCode | None = None
        except AuthError as exc:
            if is_api or exc.code != "missing":  # a page's first load has no identity yet
                AUTH_FAILURES.labels(exc.code).inc()
                log.info("%s %s: not authenticated (%s)", request.method, request.path,
                         exc.code)
            if is_api:
                return _refusal(exc.code)
            identity, error = None, exc.code
        if (identity is not None and identity.session is not None
                and request.method not in SAFE_METHODS
                and not check_csrf(await _sent_csrf_token(request), identity.session, secret)):
            AUTH_FAILURES.labels("csrf").inc()
            if is_api:
                return _refusal("csrf")
            return web.Response(status=403, text=AUTH_MESSAGES["csrf"])
        request[IDENTITY] = identity
        request[AUTH_ERROR] = error
        return await handler(request)

    return authenticate


def identity_of(request: web.Request) -> RequestIdentity:
    """The request's identity, for handlers that need one (a 401 otherwise: an /app/ page
    reached without one)."""
    identity = request.get(IDENTITY)
    if not isinstance(identity, RequestIdentity):
        raise web.HTTPUnauthorized(text=AUTH_MESSAGES["missing"])
    return identity
