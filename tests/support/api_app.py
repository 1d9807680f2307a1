"""The web app with the Mini App's API on a test's services, and how a test calls it as a
signed-in trader: initData signed as Telegram signs it (tests/web/test_auth.py writes that
signing from Telegram's documentation), the ``Authorization: tma …`` header, and a request whose
answer is checked against the OpenAPI file. Used by the API tests and the browser tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.db import READS_CONNECTION
from services.dashboard import DashboardService
from services.directory import UserDirectory
from services.exchange_admin import ExchangeAdmin
from services.i18n import Catalog
from tests.web.test_auth import TOKEN, encode, mini_app_fields, mini_app_key, telegram_hash
from webapp.api.deps import ApiDeps
from webapp.api.spec import openapi
from webapp.app import WebDeps, create_web_app

__all__ = ["SPEC", "TOKEN", "auth", "build_app", "call", "check_schema", "init_data"]


def init_data(user_id: int, *, token: str = TOKEN, age: timedelta = timedelta(0),
              language: str = "en") -> str:
    """A trader's initData (user ``{"id", "first_name": "T", "language_code"}``), signed
    ``age`` ago with ``token``."""
    fields = mini_app_fields(auth_date=datetime.now(UTC) - age,
                             user={"id": user_id, "first_name": "T", "language_code": language})
    return encode({**fields, "hash": telegram_hash(fields, mini_app_key(token))})


def auth(user_id: int, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"tma {init_data(user_id, **kwargs)}"}


def build_app(services: Services, i18n: Catalog, redis: Any, redis_prefix: str, *,
              clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> web.Application:
    """The web process's app (public pages, the Mini App's pages and its API) on the test's
    services, checking initData against TOKEN (the web process builds the same)."""
    api = ApiDeps(
        users=services.users, balances=services.balances, exchanges=services.exchanges,
        accounts=services.accounts, referrals=services.referrals, sync=services.sync,
        dashboard=DashboardService(services.balances, services.sync, READS_CONNECTION),
        staff=services.staff, directory=UserDirectory(), alerts=services.alerts,
        withdrawals=services.withdrawals, auto_withdrawals=services.auto_withdrawals,
        events=services.events, i18n=i18n, redis=redis, redis_prefix=redis_prefix,
        session_secret=b"s" * 32, clock=clock,
        exchange_admin=ExchangeAdmin(services.exchanges, services.sync, services.rates,
                                     services.credentials))
    return create_web_app(WebDeps(redis=redis, referrals=services.referrals,
                                  redis_prefix=redis_prefix, i18n=i18n, api=api,
                                  bot_token=TOKEN))


# --- the OpenAPI file --------------------------------------------------------------------

SPEC = openapi()


def check_schema(method: str, path: str, status: int, body: Any) -> None:
    """The answer matches what the OpenAPI file says for this status (or its default)."""
    responses = dict(SPEC["paths"][path][method.lower()])["responses"]
    described = responses.get(str(status)) or responses["default"]
    schema = described["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": SPEC["components"]})


async def call(client: TestClient, method: str, path: str, route: str | None = None,
               **kwargs: Any) -> tuple[int, Any]:
    """A request and its JSON answer (None for 204), checked against the OpenAPI file under
    ``route`` (the path's template, like ``/api/withdrawals/{id}``; else the path itself)."""
    response = await client.request(method, path, **kwargs)
    body = await response.json() if response.status != 204 else None
    if body is not None:
        check_schema(method, route or path.split("?")[0], response.status, body)
    return response.status, body
