"""The Mini App's JSON API (issue 13, part): who may ask (initData valid, tampered, expired,
from the future; a Telegram user who never started the bot), a trader reaching another's ids,
bad bodies as 4xx with the bot's words, Idempotency-Key on writes (a retried withdrawal holds
the money once, even when Redis forgot the key), and every answer checked against the
OpenAPI file."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient, TestServer
from tortoise import Tortoise

from bot.app import Services
from services.i18n import Catalog
from services.ledger import AccountRef
from services.models import User
from tests.payouts.helpers import EVM, TRON, funded_trader, ready_address
from tests.support.api_app import SPEC, TOKEN, auth, build_app, call, check_schema, init_data
from tests.web.test_auth import telegram_hash
from webapp.api import ROUTES

D = Decimal


@pytest.fixture
async def client(db, redis, redis_prefix, services: Services,  # type: ignore[no-untyped-def]
                 i18n: Catalog) -> AsyncIterator[TestClient]:
    app = build_app(services, i18n, redis, redis_prefix)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


# --- the OpenAPI file --------------------------------------------------------------------


def test_every_route_is_in_the_openapi_file_and_nothing_else() -> None:
    from openapi_spec_validator import validate

    validate(SPEC)
    routes = {(method.lower(), path) for method, path, _ in ROUTES}
    described = {(method, path) for path, item in SPEC["paths"].items() for method in item}
    assert routes == described


def test_the_schemas_are_closed_so_a_new_field_fails() -> None:
    with pytest.raises(jsonschema.ValidationError):
        check_schema("GET", "/api/me", 200, {"id": 1, "first_name": "a", "username": None,
                                             "locale": "en", "role": "trader",
                                             "banned": False, "csrf_token": None,
                                             "secret": "x"})


async def test_the_openapi_file_is_served_without_sign_in(client: TestClient) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    assert (await response.json())["paths"].keys() == SPEC["paths"].keys()


# --- who may ask -------------------------------------------------------------------------


async def test_init_data_valid_tampered_expired_future_and_unknown_user(
    client: TestClient
) -> None:
    user_id, _ = await funded_trader(D("12.5"))
    status, me = await call(client, "GET", "/api/me", headers=auth(user_id))
    assert status == 200 and me["id"] == user_id and me["csrf_token"] is None
    tampered = init_data(user_id).replace("%22T%22", "%22X%22")
    cases = {
        "bad_signature": {"Authorization": f"tma {tampered}"},
        "expired": auth(user_id, age=timedelta(days=2)),
        "from_the_future": auth(user_id, age=-timedelta(hours=1)),
        "malformed": {"Authorization": f"Bearer {init_data(user_id)}"},
        "missing": {},
    }
    for code, headers in cases.items():
        status, body = await call(client, "GET", "/api/me", headers=headers)
        assert (status, body["error"]["code"]) == (401, code)
    signed_by_another_bot = auth(user_id, token="987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
    status, body = await call(client, "GET", "/api/me", headers=signed_by_another_bot)
    assert (status, body["error"]["code"]) == (401, "bad_signature")
    status, body = await call(client, "GET", "/api/me", headers=auth(999_000_111,
                                                                       language="ru"))
    assert (status, body["error"]["code"]) == (403, "not_registered")
    assert "бота" in body["error"]["message"]


async def test_another_traders_ids_read_as_not_found(client: TestClient) -> None:
    owner, _ = await funded_trader(D("30"))
    other, _ = await funded_trader(D("30"))
    saved = await ready_address(_withdrawals(client), owner, "USDT-TRC20", TRON)
    status, made = await call(client, "POST", "/api/withdrawals", headers={
        **auth(owner), "Idempotency-Key": "owner-key-1"}, json={
        "method": "onchain", "network_id": "USDT-TRC20", "address_id": saved.id,
        "amount": "20", "expected_fee": await _fee(client, owner, saved.id, "20")})
    assert status == 201, made
    withdrawal_id = made["withdrawal"]["id"]
    status, body = await call(client, "GET", f"/api/withdrawals/{withdrawal_id}",
                              "/api/withdrawals/{id}", headers=auth(other))
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await call(client, "POST", f"/api/withdrawals/{withdrawal_id}/cancel",
                              "/api/withdrawals/{id}/cancel",
                              headers={**auth(other), "Idempotency-Key": "other-key-1"})
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, _ = await call(client, "DELETE", f"/api/addresses/{saved.id}",
                           "/api/addresses/{id}",
                           headers={**auth(other), "Idempotency-Key": "other-key-2"})
    assert status == 404
    status, mine = await call(client, "GET", "/api/withdrawals", headers=auth(other))
    assert status == 200 and mine["withdrawals"] == []
    # The owner still has it, untouched.
    status, body = await call(client, "GET", f"/api/withdrawals/{withdrawal_id}",
                              "/api/withdrawals/{id}", headers=auth(owner))
    assert status == 200 and body["withdrawal"]["status"] != "cancelled"


def _withdrawals(client: TestClient) -> Any:
    from webapp.api.deps import API

    return client.server.app[API].withdrawals


async def _fee(client: TestClient, user_id: int, address_id: int, amount: str) -> str:
    status, offer = await call(client, "POST", "/api/withdraw/quote", headers=auth(user_id),
                               json={"method": "onchain", "network_id": "USDT-TRC20",
                                     "address_id": address_id, "amount": amount})
    assert status == 200, offer
    return str(offer["fee"]["amount"])


# --- bad input ---------------------------------------------------------------------------


async def test_bad_bodies_are_4xx_with_the_bots_words(client: TestClient) -> None:
    user_id, _ = await funded_trader(D("30"))
    saved = await ready_address(_withdrawals(client), user_id, "USDT-TRC20", TRON)
    quote = {"method": "onchain", "network_id": "USDT-TRC20", "address_id": saved.id}
    headers = auth(user_id, language="ru")
    await Tortoise.get_connection("default").execute_query(
        "UPDATE users SET locale = 'ru' WHERE id = $1", [user_id])
    cases = [
        ({**quote, "amount": "1.1234567"}, 422, "too_many_decimals", "amount"),
        ({**quote, "amount": "abc"}, 422, "bad_amount", "amount"),
        ({**quote, "amount": "5000"}, 422, "above_balance", "amount"),
        ({**quote, "amount": "0.5"}, 422, "below_minimum", "amount"),
        ({**quote, "amount": 20}, 422, "bad_amount", "amount"),
        ({"method": "fax", "amount": "5"}, 422, "bad_field", "method"),
        ({**quote, "address_id": "1", "amount": "5"}, 422, "bad_field", "address_id"),
        ({**quote, "network_id": "USDT-ERC20", "amount": "20"}, 422, "address_unknown",
         "address"),
    ]
    for body, status, code, field in cases:
        got, answer = await call(client, "POST", "/api/withdraw/quote", headers=headers,
                                 json=body)
        assert (got, answer["error"]["code"], answer["error"]["field"]) == (status, code,
                                                                             field), body
        assert answer["error"]["message"] and "<" not in answer["error"]["message"]
    got, answer = await call(client, "POST", "/api/withdraw/quote", headers=headers,
                             data=b"{not json")
    assert (got, answer["error"]["code"]) == (400, "bad_json")
    got, answer = await call(client, "POST", "/api/withdraw/quote", headers=headers,
                             data=b"[" * 10_000)
    assert got == 400
    got, answer = await call(client, "POST", "/api/addresses", headers={
        **headers, "Idempotency-Key": "address-typo-1"}, json={
        "network_id": "USDT-ERC20", "address": EVM[:-1] + "f"})
    assert (got, answer["error"]["code"]) == (422, "address_bad_checksum")
    got, answer = await call(client, "GET", "/api/history?page=0", headers=headers)
    assert (got, answer["error"]["code"]) == (400, "bad_number")
    missing = await client.get("/api/nothing-here", headers=headers)
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"


# --- Idempotency-Key ---------------------------------------------------------------------


async def test_a_retried_withdrawal_holds_the_money_once(client: TestClient, redis,
                                                          redis_prefix) -> None:
    user_id, _ = await funded_trader(D("30"))
    saved = await ready_address(_withdrawals(client), user_id, "USDT-TRC20", TRON)
    ledger = client.server.app[_api_key()].withdrawals.ledger
    before = await ledger.balance(AccountRef.trader_available(user_id))
    body = {"method": "onchain", "network_id": "USDT-TRC20", "address_id": saved.id,
            "amount": "20", "expected_fee": await _fee(client, user_id, saved.id, "20")}
    status, answer = await call(client, "POST", "/api/withdrawals", headers=auth(user_id),
                                json=body)
    assert (status, answer["error"]["code"]) == (400, "idempotency_key_required")
    headers = {**auth(user_id), "Idempotency-Key": "press-0001"}
    first = await client.post("/api/withdrawals", headers=headers, json=body)
    again = await client.post("/api/withdrawals", headers=headers, json=body)
    assert first.status == again.status == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (await first.json()) == (await again.json())
    # Redis lost the key (restarted empty): the service still knows the request by it.
    await redis.delete(f"{redis_prefix}:idem:{user_id}:press-0001")
    status, third = await call(client, "POST", "/api/withdrawals", headers=headers, json=body)
    assert status == 201 and third["withdrawal"]["id"] == (await first.json())["withdrawal"]["id"]
    status, answer = await call(client, "POST", "/api/withdrawals", headers=headers,
                                json={**body, "amount": "5"})
    assert (status, answer["error"]["code"]) == (422, "idempotency_key_reused")
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT count(*) AS n, sum(amount) AS held FROM ledger_holds WHERE user_id = $1",
        [user_id])
    assert rows[0]["n"] == 1 and rows[0]["held"] == D("20")
    assert await ledger.balance(AccountRef.trader_available(user_id)) == before - D("20")


def _api_key() -> Any:
    from webapp.api.deps import API

    return API


async def test_settings_change_the_language_the_api_answers_in(client: TestClient) -> None:
    user_id, _ = await funded_trader(D("30"))
    status, settings = await call(client, "GET", "/api/settings", headers=auth(user_id))
    assert status == 200 and settings["locale"] == "en"
    status, settings = await call(client, "PATCH", "/api/settings", headers={
        **auth(user_id), "Idempotency-Key": "lang-0001"}, json={"locale": "ru"})
    assert status == 200 and settings["locale"] == "ru"
    user = await User.get(id=user_id)
    assert user.locale == "ru"
    status, history = await call(client, "GET", "/api/history", headers=auth(user_id))
    assert status == 200 and history["totals"]["rebate"]["amount"] == "30"
    assert history["totals"]["rebate"]["text"] == "30,00"
    status, answer = await call(client, "PATCH", "/api/settings", headers={
        **auth(user_id), "Idempotency-Key": "lang-0002"}, json={"locale": "de"})
    assert (status, answer["error"]["field"]) == (422, "locale")
    assert json.dumps(answer, ensure_ascii=False).count("«locale»") == 1


# --- the browser: Login Widget and session ------------------------------------------------


def widget(user_id: int, *, age: timedelta = timedelta(0), token: str = TOKEN) -> dict[str, str]:
    import hashlib

    fields = {"id": str(user_id), "first_name": "Anna", "username": "anna",
              "auth_date": str(int((datetime.now(UTC) - age).timestamp()))}
    return {**fields, "hash": telegram_hash(fields, hashlib.sha256(token.encode()).digest())}


async def test_login_widget_forged_expired_replayed_and_the_session_it_gives(
    client: TestClient
) -> None:
    user_id, _ = await funded_trader(D("30"))
    forged = {**widget(user_id), "id": "1"}
    for fields, status in ((forged, 401), (widget(user_id, age=timedelta(days=2)), 401),
                           (widget(user_id, token="1:other"), 401),
                           (widget(987_654_000), 403)):
        response = await client.get("/app/login/telegram", params=fields,
                                    allow_redirects=False)
        assert response.status == status, fields
        assert "cr_session" not in response.cookies
    good = widget(user_id)
    response = await client.get("/app/login/telegram", params=good, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/app/"
    cookie = response.cookies["cr_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    replayed = await client.get("/app/login/telegram", params=good, allow_redirects=False)
    assert replayed.status == 401 and "used already" in await replayed.text()
    # The session reads the trader's data; a write needs its CSRF token.
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"cr_session": cookie.value})
    status, me = await call(client, "GET", "/api/me")
    assert status == 200 and me["id"] == user_id and me["csrf_token"]
    status, answer = await call(client, "PATCH", "/api/settings", json={"locale": "ru"},
                                headers={"Idempotency-Key": "session-01"})
    assert (status, answer["error"]["code"]) == (403, "csrf")
    status, settings = await call(client, "PATCH", "/api/settings", json={"locale": "ru"},
                                  headers={"Idempotency-Key": "session-01",
                                           "X-CSRF-Token": me["csrf_token"]})
    assert status == 200 and settings["locale"] == "ru"
    tampered = cookie.value[:-2] + ("AA" if not cookie.value.endswith("AA") else "BB")
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"cr_session": tampered})
    status, answer = await call(client, "GET", "/api/me")
    assert (status, answer["error"]["code"]) == (401, "bad_signature")
