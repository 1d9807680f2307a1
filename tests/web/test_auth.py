"""webapp/auth.py: the Mini App's initData and the Login Widget checked as Telegram documents
them, the signed session cookie, CSRF, and the middleware on a small aiohttp app.

The signing here is written from the documentation, apart from the code under test: the
data-check-string is every field but ``hash`` sorted by key as ``key=value`` lines; the Mini
App's key is HMAC-SHA256(key="WebAppData", msg=token), the Login Widget's SHA256(token).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st
from multidict import MultiDict

from webapp.auth import (
    AUTH_ERROR,
    CLOCK_SKEW,
    CSRF_FIELD,
    CSRF_HEADER,
    IDENTITY,
    MAX_INIT_DATA_FIELDS,
    SESSION_COOKIE,
    AuthError,
    RequestIdentity,
    _query_fields,
    auth_middleware,
    check_csrf,
    csrf_token,
    identity_of,
    issue_session,
    read_session,
    session_cookie_kwargs,
    verify_init_data,
    verify_login_widget,
)

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
OTHER_TOKEN = "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = b"s" * 32
DAY = timedelta(days=1)
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
USER = {"id": 424242, "first_name": "Анна Мария", "last_name": "Doe", "username": "anna_doe",
        "language_code": "ru", "allows_write_to_pm": True,
        "photo_url": "https://t.me/i/userpic/320/anna.jpg"}


# --- Telegram's side, as documented -------------------------------------------------------


def telegram_hash(fields: dict[str, str], secret_key: bytes) -> str:
    lines = sorted(f"{key}={value}" for key, value in fields.items() if key != "hash")
    return hmac.new(secret_key, "\n".join(lines).encode("utf-8"), hashlib.sha256).hexdigest()


def mini_app_key(token: str) -> bytes:
    return hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()


def mini_app_fields(*, auth_date: datetime = NOW, user: dict[str, Any] | None = USER,
                    **extra: str) -> dict[str, str]:
    fields = {"query_id": "AAHdF6IQAAAAAN0XohDhrOrc", "auth_date": str(int(auth_date.timestamp())),
              "chat_instance": "-5170419470716460651", "chat_type": "private",
              "signature": "dGhlIEVkMjU1MTkgc2lnbmF0dXJlLCBsZWZ0IGluIHRoZSBoYXNo", **extra}
    if user is not None:
        fields["user"] = json.dumps(user, ensure_ascii=False, separators=(",", ":"))
    return fields


def encode(fields: dict[str, str]) -> str:
    return urlencode(fields, quote_via=quote)  # like the clients: %20, %22, UTF-8


def signed_init_data(token: str = TOKEN, **kwargs: Any) -> str:
    fields = mini_app_fields(**kwargs)
    return encode({**fields, "hash": telegram_hash(fields, mini_app_key(token))})


def widget_fields(token: str = TOKEN, *, auth_date: datetime = NOW) -> dict[str, str]:
    fields = {"id": "424242", "first_name": "Anna", "last_name": "Doe", "username": "anna_doe",
              "photo_url": "https://t.me/i/userpic/320/anna.jpg",
              "auth_date": str(int(auth_date.timestamp()))}
    return {**fields, "hash": telegram_hash(fields, hashlib.sha256(token.encode()).digest())}


def code_of(call: Any) -> str:
    with pytest.raises(AuthError) as caught:
        call()
    return caught.value.code


def check(init_data: str, token: str = TOKEN, now: datetime = NOW) -> Any:
    return lambda: verify_init_data(init_data, token, max_age=DAY, now=now)


# --- Mini App initData --------------------------------------------------------------------


def test_valid_init_data_gives_the_user() -> None:
    identity = verify_init_data(signed_init_data(), TOKEN, max_age=DAY, now=NOW)
    assert identity.user_id == 424242
    assert identity.first_name == "Анна Мария"
    assert identity.username == "anna_doe" and identity.language_code == "ru"
    assert identity.auth_date == NOW


def test_the_signature_field_is_part_of_the_data_check_string() -> None:
    """Our reading of the docs: only ``hash`` is left out of the HMAC's data-check-string
    ("all received fields"); ``signature`` is left out only of the third-party Ed25519 check."""
    fields = mini_app_fields()
    without_signature = {key: value for key, value in fields.items() if key != "signature"}
    wrong = encode({**fields, "hash": telegram_hash(without_signature, mini_app_key(TOKEN))})
    assert code_of(check(wrong)) == "bad_signature"


def test_the_published_example_verifies() -> None:
    """The example of docs.telegram-mini-apps.com (@tma.js/init-data, "Validating"): Telegram's
    own pages publish no test vector."""
    init_data = (
        "query_id=AAHdF6IQAAAAAN0XohDhrOrc"
        "&user=%7B%22id%22%3A279058397%2C%22first_name%22%3A%22Vladislav%22%2C%22last_name%22"
        "%3A%22Kibenko%22%2C%22username%22%3A%22vdkfrost%22%2C%22language_code%22%3A%22ru%22"
        "%2C%22is_premium%22%3Atrue%7D"
        "&auth_date=1662771648"
        "&hash=c501b71e775f74ce10e377dea85a7ea24ecd640b223ea86dfe453e0eaed2e2b2")
    token = "5768337691:AAH5YkoiEuPk8-FZa32hStHTqXiLPtAEhx8"
    signed_at = datetime.fromtimestamp(1662771648, tz=UTC)
    identity = verify_init_data(init_data, token, max_age=DAY, now=signed_at + timedelta(hours=1))
    assert (identity.user_id, identity.username, identity.language_code) == (
        279058397, "vdkfrost", "ru")
    assert code_of(check(init_data, now=signed_at + timedelta(hours=1))) == "bad_signature"
    assert code_of(lambda: verify_init_data(init_data, token, max_age=DAY,
                                            now=signed_at + DAY + timedelta(seconds=1))
                   ) == "expired"


@pytest.mark.parametrize("field", sorted(mini_app_fields()))
def test_a_changed_field_breaks_the_signature(field: str) -> None:
    fields = mini_app_fields()
    signed = {**fields, "hash": telegram_hash(fields, mini_app_key(TOKEN))}
    tampered = {**signed, field: signed[field].replace("4", "5").replace("a", "b") + "x"}
    assert code_of(check(encode(tampered))) == "bad_signature"


def test_an_added_or_removed_field_breaks_the_signature() -> None:
    fields = mini_app_fields()
    signed = {**fields, "hash": telegram_hash(fields, mini_app_key(TOKEN))}
    assert code_of(check(encode({**signed, "start_param": "x"}))) == "bad_signature"
    del signed["query_id"]
    assert code_of(check(encode(signed))) == "bad_signature"


def test_a_changed_hash_or_another_bots_token_is_refused() -> None:
    init_data = signed_init_data()
    digit = init_data[-1]
    assert code_of(check(init_data[:-1] + ("0" if digit != "0" else "1"))) == "bad_signature"
    assert code_of(check(init_data, token=OTHER_TOKEN)) == "bad_signature"
    assert code_of(check(signed_init_data(token=OTHER_TOKEN))) == "bad_signature"


def test_the_login_widget_key_does_not_sign_init_data() -> None:
    fields = mini_app_fields()
    widget_key = hashlib.sha256(TOKEN.encode()).digest()
    assert code_of(check(encode({**fields, "hash": telegram_hash(fields, widget_key)}))
                   ) == "bad_signature"


def test_auth_date_at_most_max_age_old_and_not_ahead_of_the_clock_skew() -> None:
    assert verify_init_data(signed_init_data(auth_date=NOW - DAY), TOKEN, max_age=DAY, now=NOW)
    old = signed_init_data(auth_date=NOW - DAY - timedelta(seconds=1))
    assert code_of(check(old)) == "expired"
    assert code_of(lambda: verify_init_data(signed_init_data(auth_date=NOW - timedelta(hours=2)),
                                            TOKEN, max_age=timedelta(hours=1), now=NOW)
                   ) == "expired"
    assert verify_init_data(signed_init_data(auth_date=NOW + CLOCK_SKEW), TOKEN, max_age=DAY,
                            now=NOW)
    ahead = signed_init_data(auth_date=NOW + CLOCK_SKEW + timedelta(seconds=1))
    assert code_of(check(ahead)) == "from_the_future"


def test_missing_and_malformed_init_data() -> None:
    assert code_of(check("")) == "missing"
    fields = mini_app_fields()
    assert code_of(check(encode(fields))) == "malformed"  # no hash
    assert code_of(check(encode({**fields, "hash": ""}))) == "malformed"
    assert code_of(check(encode({**fields, "hash": "zz" * 32}))) == "malformed"
    assert code_of(check(encode({**fields, "hash": "é" * 64}))) == "malformed"
    assert code_of(check("user&auth_date=1")) == "malformed"  # a field without "="
    assert code_of(check("user=%FF&hash=" + "0" * 64)) == "malformed"  # not UTF-8
    assert code_of(check("&".join(f"f{i}=1" for i in range(40)))) == "malformed"
    assert code_of(check("a=" + "x" * 20000)) == "malformed"


def test_a_repeated_field_is_malformed() -> None:
    init_data = signed_init_data()
    assert code_of(check(init_data + "&auth_date=1")) == "malformed"
    user = next(part for part in init_data.split("&") if part.startswith("user="))
    assert code_of(check(f"{user}&{init_data}")) == "malformed"
    assert code_of(check(init_data + "&" + init_data.split("&")[-1])) == "malformed"  # hash


# Query strings near initData's: escapes good and bad, "+", "=" and "&" anywhere, non-ASCII.
_QUERY_PIECES = st.sampled_from(["a", "user", "hash", "=", "&", "+", "%", "%7B", "%22",
                                 "%2", "%FF", "%C3%A9", "%e9", "é", "😀", "", " ", "1"])


@given(st.lists(_QUERY_PIECES, max_size=40).map("".join))
def test_init_data_fields_are_read_as_the_standard_library_reads_a_query(query: str) -> None:
    """webapp.auth reads initData's fields itself (for speed): the same fields, and the same
    refusals, as urllib.parse.parse_qsl reading strictly (plus a field given twice)."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True,
                          errors="strict", max_num_fields=MAX_INIT_DATA_FIELDS)
    except ValueError:
        pairs = None
    if pairs is not None and len(dict(pairs)) != len(pairs):
        pairs = None  # repeated: refused by verify_init_data
    if pairs is None or not query:
        with pytest.raises(AuthError):
            _query_fields(query)
    else:
        assert _query_fields(query) == dict(pairs)


def test_signed_data_without_a_user_or_with_a_bad_one() -> None:
    assert code_of(check(signed_init_data(user=None))) == "no_user"
    for user in ({"first_name": "A"}, {"id": "424242", "first_name": "A"}, {"id": 0,
                 "first_name": "A"}, {"id": True, "first_name": "A"}, {"id": 1},
                 {"id": 1, "first_name": "A", "username": 5}):
        assert code_of(check(signed_init_data(user=user))) == "malformed", user
    fields = {**mini_app_fields(user=None), "user": "{not json"}
    assert code_of(check(encode({**fields, "hash": telegram_hash(fields, mini_app_key(TOKEN))}))
                   ) == "malformed"
    fields = {**mini_app_fields(user=None), "auth_date": "yesterday"}
    assert code_of(check(encode({**fields, "hash": telegram_hash(fields, mini_app_key(TOKEN))}))
                   ) == "malformed"


def test_a_naive_clock_is_a_bug() -> None:
    with pytest.raises(ValueError):
        verify_init_data(signed_init_data(), TOKEN, max_age=DAY, now=NOW.replace(tzinfo=None))


# --- Login Widget -------------------------------------------------------------------------


def test_valid_login_widget_data() -> None:
    identity = verify_login_widget(widget_fields(), TOKEN, max_age=DAY, now=NOW)
    assert (identity.user_id, identity.first_name, identity.username) == (
        424242, "Anna", "anna_doe")
    assert identity.language_code is None and identity.auth_date == NOW
    minimal = {"id": "7", "first_name": "B", "auth_date": str(int(NOW.timestamp()))}
    minimal["hash"] = telegram_hash(minimal, hashlib.sha256(TOKEN.encode()).digest())
    assert verify_login_widget(minimal, TOKEN, max_age=DAY, now=NOW).username is None


def test_the_published_login_widget_example_verifies() -> None:
    """The README example of LipsarHQ/go-telegram-login-widget (Telegram publishes none)."""
    fields = {"first_name": "Klim", "last_name": "Sidorov", "photo_url": "https://t.me/klimsidorov",
              "username": "klimsidorov", "auth_date": "976255200", "id": "1",
              "hash": "b7a7fc776729077786e4190aec2c5dcecd2ec66ae0faf1b44316d541b955da95"}
    signed_at = datetime.fromtimestamp(976255200, tz=UTC)
    identity = verify_login_widget(fields, "XXXXXXXX:XXXXXXXXXXXXXXXXXXXXXXXX", max_age=DAY,
                                   now=signed_at)
    assert identity.user_id == 1 and identity.username == "klimsidorov"


@pytest.mark.parametrize("field", ["id", "first_name", "last_name", "username", "photo_url",
                                   "auth_date", "hash"])
def test_a_changed_login_widget_field_breaks_the_signature(field: str) -> None:
    fields = widget_fields()
    fields[field] = fields[field][:-1] + ("0" if fields[field][-1] != "0" else "1")
    assert code_of(lambda: verify_login_widget(fields, TOKEN, max_age=DAY, now=NOW)
                   ) == "bad_signature"


def test_login_widget_refusals() -> None:
    def widget(fields: Any, token: str = TOKEN, now: datetime = NOW) -> Any:
        return lambda: verify_login_widget(fields, token, max_age=DAY, now=now)

    assert code_of(widget(widget_fields(), OTHER_TOKEN)) == "bad_signature"
    old = widget_fields(auth_date=NOW - DAY - timedelta(seconds=1))
    assert code_of(widget(old)) == "expired"
    ahead = widget_fields(auth_date=NOW + timedelta(minutes=5))
    assert code_of(widget(ahead)) == "from_the_future"
    assert code_of(widget({})) == "missing"
    no_hash = {key: value for key, value in widget_fields().items() if key != "hash"}
    assert code_of(widget(no_hash)) == "malformed"
    repeated = MultiDict(widget_fields())
    repeated.add("id", "1")
    assert code_of(widget(repeated)) == "malformed"
    mini_app_signed = {key: v for key, v in widget_fields().items() if key != "hash"}
    mini_app_signed["hash"] = telegram_hash(mini_app_signed, mini_app_key(TOKEN))
    assert code_of(widget(mini_app_signed)) == "bad_signature"
    no_id = {"first_name": "B", "auth_date": str(int(NOW.timestamp()))}
    no_id["hash"] = telegram_hash(no_id, hashlib.sha256(TOKEN.encode()).digest())
    assert code_of(widget(no_id)) == "no_user"


# --- Session and CSRF ---------------------------------------------------------------------


def test_a_session_reads_back_until_it_expires() -> None:
    value = issue_session(424242, SECRET, NOW)
    assert read_session(value, SECRET, DAY, NOW + DAY) == 424242
    assert code_of(lambda: read_session(value, SECRET, DAY, NOW + DAY + timedelta(seconds=1))
                   ) == "expired"
    assert code_of(lambda: read_session(value, SECRET, DAY, NOW - timedelta(minutes=5))
                   ) == "from_the_future"


def test_a_tampered_session_is_refused() -> None:
    value = issue_session(424242, SECRET, NOW)
    version, user_id, issued, mac = value.split(".")
    forged_user = ".".join([version, "424243", issued, mac])
    renewed = ".".join([version, user_id, str(int(issued) + 3600), mac])
    flipped = value[:-1] + ("A" if value[-1] != "A" else "B")
    for forged in (forged_user, renewed, flipped):
        assert code_of(lambda forged=forged: read_session(forged, SECRET, DAY, NOW)
                       ) == "bad_signature"
    assert code_of(lambda: read_session(value, b"t" * 32, DAY, NOW)) == "bad_signature"
    for junk in ("424242", "2." + value[2:], value + ".x", value.replace(".", ":"), "é" * 60):
        assert code_of(lambda junk=junk: read_session(junk, SECRET, DAY, NOW)) == "malformed"
    assert code_of(lambda: read_session("", SECRET, DAY, NOW)) == "missing"


def test_session_keys_are_not_the_csrf_keys() -> None:
    value = issue_session(424242, SECRET, NOW)
    assert csrf_token(value, SECRET) != value.rsplit(".", 1)[1]


def test_csrf_token_is_bound_to_the_session_and_the_secret() -> None:
    session = issue_session(424242, SECRET, NOW)
    token = csrf_token(session, SECRET)
    assert token == csrf_token(session, SECRET)
    assert check_csrf(token, session, SECRET)
    other_session = issue_session(424242, SECRET, NOW + timedelta(seconds=1))
    assert not check_csrf(token, other_session, SECRET)
    assert not check_csrf(token, session, b"t" * 32)
    assert not check_csrf(None, session, SECRET)
    assert not check_csrf("", session, SECRET)
    assert not check_csrf(token[:-1], session, SECRET)


def test_session_cookie_attributes() -> None:
    assert session_cookie_kwargs(True) == {"httponly": True, "samesite": "Lax", "secure": True,
                                           "path": "/"}
    assert session_cookie_kwargs(False, max_age=DAY)["max_age"] == 86400
    assert session_cookie_kwargs(False)["secure"] is False


def test_an_empty_secret_is_a_bug() -> None:
    with pytest.raises(ValueError):
        issue_session(1, b"", NOW)


# --- The middleware -----------------------------------------------------------------------


async def whoami(request: web.Request) -> web.Response:
    identity = identity_of(request)
    form = await request.post() if request.content_type.endswith("urlencoded") else {}
    return web.json_response({"user_id": identity.user_id, "via": identity.via,
                              "note": form.get("note")})


async def page(request: web.Request) -> web.Response:
    identity = request[IDENTITY]
    assert identity is None or isinstance(identity, RequestIdentity)
    return web.json_response({"user_id": identity.user_id if identity else None,
                              "auth_error": request[AUTH_ERROR]})


async def public(request: web.Request) -> web.Response:
    assert IDENTITY not in request
    return web.Response(text="ok")


@pytest.fixture
async def client() -> Any:
    app = web.Application(middlewares=[auth_middleware(lambda: TOKEN, SECRET, DAY, lambda: NOW)])
    app.router.add_route("*", "/api/me", whoami)
    app.router.add_route("*", "/app/page", page)
    app.router.add_get("/public", public)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def tma(init_data: str) -> dict[str, str]:
    return {"Authorization": f"tma {init_data}"}


def cookie(value: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={value}"}


async def error_code(response: Any, status: int = 401) -> str:
    assert response.status == status
    body = await response.json()
    assert body["error"]["message"]
    return str(body["error"]["code"])


async def test_other_paths_are_left_alone(client: TestClient) -> None:
    response = await client.get("/public")
    assert response.status == 200


async def test_the_api_needs_an_identity(client: TestClient) -> None:
    response = await client.get("/api/me")
    assert await error_code(response) == "missing"
    assert response.headers["WWW-Authenticate"] == "tma"
    assert await error_code(await client.get("/api/me", headers={"Authorization": "Bearer x"})
                            ) == "malformed"
    assert await error_code(await client.get("/api/me", headers=tma(""))) == "missing"


async def test_init_data_in_the_header_identifies_the_user(client: TestClient) -> None:
    response = await client.get("/api/me", headers=tma(signed_init_data()))
    assert response.status == 200
    assert await response.json() == {"user_id": 424242, "via": "init_data", "note": None}
    # No CSRF token needed: a browser never sends this header on its own.
    response = await client.post("/api/me", headers=tma(signed_init_data()), data={"note": "n"})
    assert (await response.json())["note"] == "n"


async def test_bad_init_data_in_the_header_is_refused(client: TestClient) -> None:
    expired = signed_init_data(auth_date=NOW - DAY - timedelta(seconds=1))
    assert await error_code(await client.get("/api/me", headers=tma(expired))) == "expired"
    foreign = signed_init_data(token=OTHER_TOKEN)
    assert await error_code(await client.get("/api/me", headers=tma(foreign))
                            ) == "bad_signature"
    # A bad header is not rescued by a good cookie.
    headers = {**tma(foreign), **cookie(issue_session(424242, SECRET, NOW))}
    assert await error_code(await client.get("/api/me", headers=headers)) == "bad_signature"


async def test_a_session_cookie_identifies_the_user(client: TestClient) -> None:
    session = issue_session(424242, SECRET, NOW - timedelta(hours=1))
    response = await client.get("/api/me", headers=cookie(session))
    assert await response.json() == {"user_id": 424242, "via": "session", "note": None}
    old = issue_session(424242, SECRET, NOW - DAY - timedelta(seconds=1))
    assert await error_code(await client.get("/api/me", headers=cookie(old))) == "expired"
    forged = session.replace("424242", "424243", 1)
    assert await error_code(await client.get("/api/me", headers=cookie(forged))
                            ) == "bad_signature"


async def test_unsafe_methods_with_a_session_need_the_csrf_token(client: TestClient) -> None:
    session = issue_session(424242, SECRET, NOW)
    token = csrf_token(session, SECRET)
    refused = await client.post("/api/me", headers=cookie(session), data={"note": "n"})
    assert await error_code(refused, 403) == "csrf"
    wrong = csrf_token(issue_session(424242, SECRET, NOW - timedelta(seconds=1)), SECRET)
    refused = await client.post("/api/me", headers={**cookie(session), CSRF_HEADER: wrong})
    assert await error_code(refused, 403) == "csrf"
    response = await client.delete("/api/me", headers={**cookie(session), CSRF_HEADER: token})
    assert response.status == 200
    response = await client.post("/api/me", headers=cookie(session),
                                 data={CSRF_FIELD: token, "note": "n"})
    assert response.status == 200 and (await response.json())["note"] == "n"  # form still read


async def test_app_pages_get_the_identity_or_the_reason(client: TestClient) -> None:
    response = await client.get("/app/page")
    assert await response.json() == {"user_id": None, "auth_error": "missing"}
    session = issue_session(424242, SECRET, NOW)
    response = await client.get("/app/page", headers=cookie(session))
    assert await response.json() == {"user_id": 424242, "auth_error": None}
    response = await client.get("/app/page", headers=cookie(session[:-2] + "xx"))
    assert await response.json() == {"user_id": None, "auth_error": "bad_signature"}
    response = await client.post("/app/page", headers=cookie(session), data={"a": "b"})
    assert response.status == 403 and "reload" in await response.text()
    response = await client.post("/app/page", headers=cookie(session),
                                 data={CSRF_FIELD: csrf_token(session, SECRET)})
    assert response.status == 200


async def test_the_bot_token_is_read_per_request() -> None:
    tokens = [TOKEN]
    app = web.Application(middlewares=[
        auth_middleware(lambda: tokens[-1], SECRET, DAY, lambda: NOW)])
    app.router.add_get("/api/me", whoami)
    async with TestClient(TestServer(app)) as test_client:
        assert (await test_client.get("/api/me", headers=tma(signed_init_data()))).status == 200
        tokens.append(OTHER_TOKEN)
        assert (await test_client.get("/api/me", headers=tma(signed_init_data()))).status == 401
