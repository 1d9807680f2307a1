"""The Exchanges screen's API (issue 14) on real PostgreSQL and Redis: the list and one
exchange with its sync history in words, every change with an Idempotency-Key (replayed, never
done twice), bad bodies as 4xx in the reader's language, and no secret in any answer, replay,
audit row or log line. Every answer is checked against the OpenAPI file (the role matrix is
tests/web/test_api_admin.py's)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tortoise import Tortoise

from bot.app import Services
from services.i18n import Catalog
from services.models import AuditEntry, Exchange, SyncRun, SyncRunStatus, User
from tests.support.api_app import auth, build_app, call
from webapp.api.deps import API

ADMIN, VIEWER = 960, 961
KEY, SECRET, PASSPHRASE = "api-key-for-okx-9Z8Y", "the-okx-secret-value", "okx-passphrase"
ONE = "/api/admin/exchanges/{exchange}"
CREDENTIALS = "/api/admin/exchanges/{exchange}/credentials"


@pytest.fixture
async def client(db, redis, redis_prefix, services: Services,  # type: ignore[no-untyped-def]
                 i18n: Catalog) -> AsyncIterator[TestClient]:
    await User.create(id=ADMIN, first_name="Admin", role="admin")
    await User.create(id=VIEWER, first_name="Viewer", role="viewer", locale="ru")
    app = build_app(services, i18n, redis, redis_prefix)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def _as(user: int, key: str | None = None) -> dict[str, str]:
    return {**auth(user), **({"Idempotency-Key": key} if key else {})}


async def _write(client: TestClient, method: str, path: str, route: str, key: str,
                 body: Any = None, **kwargs: Any) -> tuple[int, Any]:
    return await call(client, method, path, route, headers=_as(ADMIN, key), json=body,
                      **kwargs)


async def test_the_list_and_one_exchange_with_its_history_in_words(client: TestClient) -> None:
    started = datetime.now(UTC) - timedelta(hours=2)
    await SyncRun.create(exchange_id="okx", trigger="cron", status=SyncRunStatus.OK,
                         records_seen=12, records_new=3, finished_at=started)
    await SyncRun.create(exchange_id="okx", trigger="cron", status=SyncRunStatus.FAILED,
                         error_class="auth", error="AuthenticationError: Invalid OK-ACCESS-KEY",
                         finished_at=started + timedelta(minutes=1))
    status, body = await call(client, "GET", "/api/admin/exchanges", headers=_as(VIEWER))
    assert status == 200 and body["actions"] == {"edit": False, "share": False}
    ids = [e["id"] for e in body["exchanges"]]
    assert ids == [e.id for e in await Exchange.all().order_by("position", "id")]
    okx = next(e for e in body["exchanges"] if e["id"] == "okx")
    assert okx["credential"]["source"] == "none" and okx["status"] == "not_configured"
    assert okx["status_text"] == "Нет API-ключа"  # the viewer reads Russian
    assert okx["share"]["percent"] == "60" and okx["last_error"].startswith("Authentication")
    status, one = await call(client, "GET", "/api/admin/exchanges/okx", ONE,
                             headers=_as(ADMIN))
    assert status == 200 and one["actions"] == {"edit": True, "share": True}
    assert [(r["status"], r["error_class"]) for r in one["runs"]] == [
        ("failed", "auth"), ("ok", None)]
    assert one["runs"][0]["error_words"].startswith("The exchange refused our API key")
    assert one["runs"][1]["error_words"] is None and one["runs"][1]["seen"] == 12
    assert one["limits"] == {"interval_min": 5, "interval_max": 1440}
    for missing in ("nasdaq", "okx%20x", "a" * 17):
        status, answer = await call(client, "GET", f"/api/admin/exchanges/{missing}", ONE,
                                    headers=_as(ADMIN))
        assert (status, answer["error"]["code"]) == (404, "unknown_exchange"), missing


async def test_credentials_are_write_only_everywhere(
    client: TestClient, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    expires = (datetime.now(UTC).date() + timedelta(days=5)).isoformat()
    body = {"api_key": KEY, "api_secret": SECRET, "api_password": PASSPHRASE,
            "expires_on": expires}
    status, answer = await _write(client, "PUT", "/api/admin/exchanges/okx/credentials",
                                  CREDENTIALS, "cred-0000001", body)
    assert status == 200, answer
    credential = answer["exchange"]["credential"]
    assert (credential["source"], credential["hint"], credential["expires_on"]["day"],
            credential["expiring"], credential["set_by"]) == ("db", "9Z8Y", expires, True, ADMIN)
    # The same request again (a lost answer): the first answer, replayed; one audit row.
    response = await client.put("/api/admin/exchanges/okx/credentials", json=body,
                                headers=_as(ADMIN, "cred-0000001"))
    assert response.headers.get("Idempotent-Replayed") == "true"
    replayed = await response.text()
    assert await AuditEntry.filter(action="exchange.credentials").count() == 1
    # The same key with another body is a client bug, refused.
    status, answer = await _write(client, "PUT", "/api/admin/exchanges/okx/credentials",
                                  CREDENTIALS, "cred-0000001", {**body, "api_key": KEY + "x"})
    assert (status, answer["error"]["code"]) == (422, "idempotency_key_reused")
    listing = await (await client.get("/api/admin/exchanges", headers=_as(ADMIN))).text()
    one = await (await client.get("/api/admin/exchanges/okx", headers=_as(ADMIN))).text()
    spec = await (await client.get("/api/openapi.json")).text()
    audit_rows = str(await Tortoise.get_connection("default").execute_query_dict(
        "SELECT * FROM audit_log", []))
    stored = str(await Tortoise.get_connection("default").execute_query_dict(
        "SELECT * FROM exchange_credentials", []))
    deps = client.app[API]
    kept = [await deps.redis.get(k)
            async for k in deps.redis.scan_iter(match=f"{deps.redis_prefix}:*")]
    for secret in (KEY, SECRET, PASSPHRASE):
        for text in (replayed, listing, one, spec, audit_rows, stored, caplog.text,
                     str(kept)):
            assert secret not in text


async def test_changes_and_their_refusals(client: TestClient) -> None:
    path = "/api/admin/exchanges/okx"
    status, answer = await _write(client, "PATCH", path, ONE, "patch-000001", {
        "enabled": False, "link_template": "https://www.okx.com/join/X?sub={sub}",
        "sync_interval_minutes": 30})
    assert status == 200, answer
    assert (answer["exchange"]["enabled"], answer["exchange"]["status"],
            answer["exchange"]["sync_interval_minutes"]) == (False, "disabled", 30)
    status, answer = await _write(client, "PUT", f"{path}/share", f"{ONE}/share",
                                  "share-000001", {"share_percent": "62.5"})
    assert status == 200 and answer["exchange"]["share"]["percent"] == "62.5"
    assert answer["exchange"]["share"]["text"] == "62.5%"
    refusals = [
        ("PATCH", path, ONE, {"enabled": False}, 409, "unchanged", None),
        ("PATCH", path, ONE, {}, 400, "bad_json", None),
        ("PATCH", path, ONE, [1, 2], 400, "bad_json", None),
        ("PATCH", path, ONE, {"enabled": "yes"}, 422, "bad_field", "enabled"),
        ("PATCH", path, ONE, {"sync_interval_minutes": "60"}, 422, "bad_field",
         "sync_interval_minutes"),
        ("PATCH", path, ONE, {"sync_interval_minutes": 2}, 422, "bad_interval",
         "sync_interval_minutes"),
        ("PATCH", path, ONE, {"link_template": "https://okx.com/{code}"}, 422, "bad_link",
         "link_template"),
        ("PATCH", "/api/admin/exchanges/nasdaq", ONE, {"enabled": True}, 404,
         "unknown_exchange", None),
        ("PUT", f"{path}/share", f"{ONE}/share", {"share_percent": "sixty"}, 422, "bad_share",
         "share_percent"),
        ("PUT", f"{path}/share", f"{ONE}/share", {"share_percent": None}, 422, "bad_field",
         "share_percent"),
        ("PUT", f"{path}/share", f"{ONE}/share", {"share_percent": "60",
                                                   "valid_from": "2020-01-01"}, 422,
         "bad_date", "valid_from"),
        ("PUT", f"{path}/share", f"{ONE}/share", {"share_percent": "60",
                                                   "valid_from": "tomorrow"}, 422,
         "bad_date", "valid_from"),
        ("PUT", f"{path}/credentials", CREDENTIALS, {"api_key": KEY}, 422, "bad_key",
         "api_secret"),
        ("PUT", f"{path}/credentials", CREDENTIALS, {"api_key": "with space 123",
                                                     "api_secret": SECRET}, 422, "bad_key",
         "api_key"),
        ("PUT", f"{path}/credentials", CREDENTIALS, {"api_key": KEY, "api_secret": SECRET,
                                                     "expires_on": 20301231}, 422,
         "bad_date", "expires_on"),
        ("DELETE", f"{path}/credentials", CREDENTIALS, None, 409, "no_credentials", None),
    ]
    for n, (method, url, route, body, code, error, field) in enumerate(refusals):
        status, answer = await _write(client, method, url, route, f"refusal-{n:04d}", body)
        assert (status, answer["error"]["code"], answer["error"]["field"]) == (
            code, error, field), (method, url, body)
        assert answer["error"]["message"]
    status, answer = await call(client, "PATCH", path, ONE, headers=_as(ADMIN),
                                json={"enabled": True})
    assert (status, answer["error"]["code"]) == (400, "idempotency_key_required")
    status, answer = await call(client, "PATCH", path, ONE, data=b"{not json",
                                headers={**_as(ADMIN, "broken-00001"),
                                         "Content-Type": "application/json"})
    assert (status, answer["error"]["code"]) == (400, "bad_json")
    okx = await Exchange.get(id="okx")
    assert (okx.enabled, okx.sync_interval_minutes, str(okx.trader_share)) == (
        False, 30, "0.6250")
    assert [a.action for a in await AuditEntry.filter(actor_id=ADMIN).order_by("id")] == [
        "exchange.update", "rate.exchange_share"]


async def test_errors_are_in_the_readers_language(client: TestClient) -> None:
    await User.filter(id=ADMIN).update(locale="ru")
    client.app[API].users.forget_cache()
    status, answer = await _write(client, "PATCH", "/api/admin/exchanges/okx", ONE,
                                  "ru-err-00001", {"sync_interval_minutes": 9999})
    assert status == 422
    assert answer["error"]["message"] == "Интервал синхронизации — целое число минут от 5 до 1440."


async def test_rotation_from_the_screen(client: TestClient) -> None:
    status, answer = await _write(client, "PUT", "/api/admin/exchanges/bybit/credentials",
                                  CREDENTIALS, "rot-set-0001",
                                  {"api_key": KEY, "api_secret": SECRET})
    assert status == 200
    status, answer = await _write(client, "POST", "/api/admin/credentials/rotate",
                                  "/api/admin/credentials/rotate", "rotate-00001")
    assert status == 200 and (answer["rotated"], answer["unreadable"]) == (0, 0)
    [entry] = await AuditEntry.filter(action="exchange.credentials_rotate")
    assert entry.after == {"rotated": 0, "unreadable": 0}
