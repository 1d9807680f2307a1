"""Manual adjustments through the admin API (webapp/api/admin_adjustments.py): asked for on a
user, applied at once up to the threshold or waiting for a second admin, listed, approved by
another admin; the refusals as the house JSON error in the reader's language with the field;
a retried request (same Idempotency-Key) is the same adjustment. Answers match the OpenAPI
file (tests/support/api_app.call); the balances are read back from the ledger."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tortoise import Tortoise

from bot.app import Services
from services.adjustments import MAX_AMOUNT
from services.formatting import money
from services.i18n import Catalog
from services.models import Role, User
from tests.payouts.helpers import funded_trader, staff
from tests.support.api_app import auth, build_app, call

D = Decimal
CREATE = "/api/admin/users/{id}/adjustments"


@pytest.fixture
async def client(db, redis, redis_prefix, services: Services,  # type: ignore[no-untyped-def]
                 i18n: Catalog) -> AsyncIterator[TestClient]:
    app = build_app(services, i18n, redis, redis_prefix)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def available(user_id: int) -> Decimal:
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT coalesce(sum(p.amount), 0) AS total FROM ledger_postings p JOIN ledger_accounts "
        "a ON a.id = p.account_id WHERE a.kind = 'trader_available' AND a.owner = $1",
        [str(user_id)])
    return D(rows[0]["total"])


async def ask(client: TestClient, actor: int, target: int, key: str,
              **body: Any) -> tuple[int, Any]:
    return await call(client, "POST", f"/api/admin/users/{target}/adjustments", CREATE,
                      headers={**auth(actor), "Idempotency-Key": key}, json=body)


async def decide(client: TestClient, actor: int, adjustment_id: int, action: str, key: str,
                 revision: int) -> tuple[int, Any]:
    return await call(client, "POST", f"/api/admin/adjustments/{adjustment_id}/{action}",
                      f"/api/admin/adjustments/{{id}}/{action}",
                      headers={**auth(actor), "Idempotency-Key": key},
                      json={"revision": revision})


async def test_applied_at_once_then_waiting_then_approved_by_another(
        client: TestClient) -> None:
    trader, _ = await funded_trader(D(60))
    first, second = await staff(Role.ADMIN), await staff(Role.ADMIN)
    status, body = await ask(client, first, trader, "adj-key-0001", direction="credit",
                             amount="12,5", reason="Goodwill", document_ref="TCK-9")
    assert status == 201, body
    made = body["adjustment"]
    assert (made["status"], made["amount"]["amount"], made["document_ref"]) == (
        "applied", "12.5", "TCK-9")
    assert made["entry_id"] and made["actions"] == {"approve": False, "reject": False,
                                                    "cancel": False}
    assert await available(trader) == D("72.5")
    # The same key again: the same answer, nothing booked twice.
    status, again = await ask(client, first, trader, "adj-key-0001", direction="credit",
                              amount="12,5", reason="Goodwill", document_ref="TCK-9")
    assert (status, again["adjustment"]["id"]) == (201, made["id"])
    assert await available(trader) == D("72.5")

    status, body = await ask(client, first, trader, "adj-key-0002", direction="debit",
                             amount="60", reason="Clawback")  # 60 <= 100: at once
    assert (status, body["adjustment"]["status"]) == (201, "applied")
    status, body = await ask(client, first, trader, "adj-key-0003", direction="credit",
                             amount="150", reason="Migration")
    waiting = body["adjustment"]
    assert (status, waiting["status"], waiting["entry_id"]) == (201, "awaiting_second", None)
    assert waiting["actions"] == {"approve": False, "reject": False, "cancel": True}
    assert await available(trader) == D("12.5")

    status, queue = await call(client, "GET", "/api/admin/adjustments?status=awaiting_second",
                               "/api/admin/adjustments", headers=auth(second))
    assert status == 200, queue
    assert [a["id"] for a in queue["adjustments"]] == [waiting["id"]]
    assert queue["adjustments"][0]["actions"] == {"approve": True, "reject": True,
                                                  "cancel": False}
    assert queue["second_admin_above"]["amount"] == "100" and queue["can_request"]
    status, mine = await call(client, "GET", f"/api/admin/adjustments?user={trader}",
                              "/api/admin/adjustments", headers=auth(second))
    assert [a["status"] for a in mine["adjustments"]] == ["awaiting_second", "applied",
                                                          "applied"]

    status, refused = await decide(client, first, waiting["id"], "approve", "adj-key-0004", 1)
    assert (status, refused["error"]["code"]) == (409, "own_request")
    status, done = await decide(client, second, waiting["id"], "approve", "adj-key-0005", 1)
    assert (status, done["adjustment"]["status"], done["adjustment"]["decided_by"]) == (
        200, "applied", second)
    assert await available(trader) == D("162.5")
    status, refused = await decide(client, second, waiting["id"], "approve", "adj-key-0006", 1)
    assert (status, refused["error"]["code"]) == (409, "already_decided")
    assert await available(trader) == D("162.5")


@pytest.mark.parametrize("body, status, code, field", [
    ({"direction": "up", "amount": "5", "reason": "r"}, 422, "bad_direction", "direction"),
    ({"direction": "credit", "amount": "abc", "reason": "r"}, 422, "bad_amount", "amount"),
    ({"direction": "credit", "amount": 5, "reason": "r"}, 422, "bad_amount", "amount"),
    ({"direction": "credit", "amount": "1.123456789", "reason": "r"}, 422, "too_precise",
     "amount"),
    ({"direction": "credit", "amount": "2000000", "reason": "r"}, 422, "too_large", "amount"),
    ({"direction": "credit", "amount": "5", "reason": ""}, 422, "no_reason", "reason"),
    ({"direction": "credit", "amount": "5", "reason": "r" * 501}, 422, "reason_too_long",
     "reason"),
    ({"direction": "debit", "amount": "60.00000001", "reason": "r"}, 409,
     "insufficient_funds", "amount"),
])
async def test_refusals_are_the_house_error_with_the_field(
        client: TestClient, body: dict[str, Any], status: int, code: str, field: str) -> None:
    trader, _ = await funded_trader(D(60))
    admin = await staff(Role.ADMIN)
    got, answer = await ask(client, admin, trader, "refuse-key-01", **body)
    assert (got, answer["error"]["code"], answer["error"]["field"]) == (status, code, field)
    assert answer["error"]["message"] and "{" not in answer["error"]["message"]
    assert await available(trader) == D(60)


async def test_refusals_in_russian_and_the_other_refusals(client: TestClient,
                                                          i18n: Catalog) -> None:
    trader, _ = await funded_trader(D(60))
    admin = await staff(Role.ADMIN)
    await User.filter(id=admin).update(locale="ru")
    status, answer = await ask(client, admin, trader, "refuse-ru-01", direction="credit",
                               amount="2000000", reason="r")
    message = answer["error"]["message"]
    assert status == 422 and re.search("[а-яё]", message, re.I), message
    assert message == i18n.translator("ru")("api.error.adjust.too_large",
                                            max=money(MAX_AMOUNT, "ru"))
    assert money(MAX_AMOUNT, "ru") != money(MAX_AMOUNT, "en")  # in the reader's language
    status, answer = await ask(client, admin, admin, "refuse-ru-02", direction="credit",
                               amount="1", reason="r")
    assert (status, answer["error"]["code"]) == (409, "yourself")
    status, answer = await ask(client, admin, 77777, "refuse-ru-03", direction="credit",
                               amount="1", reason="r")
    assert (status, answer["error"]["code"]) == (404, "unknown_user")
    status, answer = await decide(client, admin, 99999, "approve", "refuse-ru-04", 1)
    assert (status, answer["error"]["code"]) == (404, "not_found")
    status, answer = await call(client, "GET", "/api/admin/adjustments?status=done",
                                "/api/admin/adjustments", headers=auth(admin))
    assert (status, answer["error"]["field"]) == (400, "status")
    status, answer = await call(client, "POST", f"/api/admin/users/{trader}/adjustments",
                                CREATE, headers=auth(admin), json={})
    assert (status, answer["error"]["code"]) == (400, "idempotency_key_required")
