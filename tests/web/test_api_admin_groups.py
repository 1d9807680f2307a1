"""A trader's rate group on their page in the admin screens (issue 14): the user's file shows
the group in force today, the next change set for a later day and the groups to choose from;
``PUT /api/admin/users/{id}/group`` puts the trader into a group, moves them, takes them out,
from today or a later day — and the rebate engine's share follows (RateService.quote_share).
Refusals are the house JSON errors in the reader's language, with the field at fault, and
change nothing. Every answer is checked against the OpenAPI file."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Services
from services.i18n import Catalog
from services.models import AuditEntry, Exchange, Role, User
from services.models.rates import RateGroupMember
from services.rebates import RateService
from services.rebates.membership import MembershipAdmin, MembershipError, MembershipRefusal
from tests.payouts.helpers import funded_trader
from tests.support.api_app import auth, build_app, call

D = Decimal
ADMIN, OPS, VIEWER = 940, 941, 942
ROUTE = "/api/admin/users/{id}/group"
FILE = "/api/admin/users/{id}"


def _today() -> date:
    return datetime.now(UTC).date()


@pytest.fixture
async def client(db, redis, redis_prefix, services: Services,  # type: ignore[no-untyped-def]
                 i18n: Catalog) -> AsyncIterator[TestClient]:
    for user_id, role in ((ADMIN, Role.ADMIN), (OPS, Role.OPS), (VIEWER, Role.VIEWER)):
        await User.create(id=user_id, first_name=role.value.title(), role=role)
    app = build_app(services, i18n, redis, redis_prefix)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.fixture
async def tiers(db: str) -> dict[str, int]:
    """Gold: 80 % on OKX (and nothing of its own elsewhere); Silver: 70 % everywhere."""
    rates = RateService()
    gold, silver = await rates.create_group("Gold"), await rates.create_group("Silver")
    await rates.set_group_share(gold, D("0.8"), "okx", date(2020, 1, 1))
    await rates.set_group_share(silver, D("0.7"), valid_from=date(2020, 1, 1))
    return {"Gold": gold, "Silver": silver}


class Writer:
    """PUTs the group as one user, each with its own Idempotency-Key."""

    def __init__(self, client: TestClient, user_id: int, language: str = "en") -> None:
        self.client, self.user_id, self.language, self.count = client, user_id, language, 0

    async def put(self, target: int, body: Any, key: str | None = None) -> tuple[int, Any]:
        self.count += 1
        headers = {**auth(self.user_id, language=self.language),
                   "Idempotency-Key": key or f"group-{self.user_id}-{self.count:04d}"}
        return await call(self.client, "PUT", f"/api/admin/users/{target}/group", ROUTE,
                          headers=headers, json=body)


async def _share(trader: int, exchange: str, day: date) -> tuple[Decimal, str]:
    quote = await RateService().quote_share(trader, exchange, day)
    return quote.share, quote.source


async def test_an_admin_sets_changes_and_clears_a_traders_group(
        client: TestClient, tiers: dict[str, int]) -> None:
    trader, _ = await funded_trader(D(10))
    okx = (await Exchange.get(id="okx")).trader_share
    today, gold, silver = _today(), tiers["Gold"], tiers["Silver"]
    status, body = await call(client, "GET", f"/api/admin/users/{trader}", FILE,
                              headers=auth(ADMIN))
    assert status == 200, body
    assert (body["group"], body["group_upcoming"], body["actions"]["group"]) == (None, None,
                                                                                  True)
    assert body["groups"] == [{"id": gold, "name": "Gold"}, {"id": silver, "name": "Silver"}]
    assert await _share(trader, "okx", today) == (okx, "exchange")
    admin = Writer(client, ADMIN)

    # Into Gold from today (valid_from absent): the engine's share for OKX is Gold's.
    status, body = await admin.put(trader, {"group_id": gold}, key="group-gold-0001")
    assert status == 200, body
    assert body["user"]["id"] == trader and body["group"] == {"id": gold, "name": "Gold"}
    assert await _share(trader, "okx", today) == (D("0.8"), "group")
    assert await _share(trader, "bybit", today) == (
        (await Exchange.get(id="bybit")).trader_share, "exchange")  # Gold has none there
    # The same request again (a lost answer): the first answer, done once.
    replay = await admin.put(trader, {"group_id": gold}, key="group-gold-0001")
    assert replay == (200, body)

    # Moved to Silver, the same day: corrected, one membership row for the day.
    status, body = await admin.put(trader, {"group_id": silver,
                                            "valid_from": today.isoformat()})
    assert (status, body["group"]) == (200, {"id": silver, "name": "Silver"}), body
    assert await _share(trader, "okx", today) == (D("0.7"), "group")
    assert await _share(trader, "bybit", today) == (D("0.7"), "group")
    assert await RateGroupMember.filter(user_id=trader).count() == 1

    # Out of every group: the exchange's share again.
    status, body = await admin.put(trader, {"group_id": None})
    assert (status, body["group"]) == (200, None), body
    assert await _share(trader, "okx", today) == (okx, "exchange")

    # Gold from a later day: today stays as it is, the change is shown as coming.
    later = today + timedelta(days=5)
    status, body = await admin.put(trader, {"group_id": gold, "valid_from": later.isoformat()})
    assert status == 200, body
    assert body["group"] is None
    assert body["group_upcoming"] == {"valid_from": later.isoformat(),
                                      "group": {"id": gold, "name": "Gold"}}
    assert await _share(trader, "okx", today) == (okx, "exchange")
    assert await _share(trader, "okx", later - timedelta(days=1)) == (okx, "exchange")
    assert await _share(trader, "okx", later) == (D("0.8"), "group")
    assert [(m.group_id, m.valid_from) for m in await RateGroupMember.filter(
        user_id=trader).order_by("valid_from")] == [(None, today), (gold, later)]

    # Every change audited, by the admin, with what it was before.
    entries = await AuditEntry.filter(action="rate.member", object_id=str(trader)).order_by(
        "id")
    assert [(e.actor_id, e.before, e.after) for e in entries] == [
        (ADMIN, {"group_id": None}, {"group_id": gold, "valid_from": today.isoformat()}),
        (ADMIN, {"group_id": gold}, {"group_id": silver, "valid_from": today.isoformat()}),
        (ADMIN, {"group_id": silver}, {"group_id": None, "valid_from": today.isoformat()}),
        (ADMIN, {"group_id": None}, {"group_id": gold, "valid_from": later.isoformat()})]


async def test_refusals_say_why_under_the_field_and_change_nothing(
        client: TestClient, tiers: dict[str, int], i18n: Catalog) -> None:
    trader, _ = await funded_trader(D(10))
    admin = Writer(client, ADMIN)
    today = _today()
    gold = tiers["Gold"]
    en = i18n.translator("en")
    cases: list[tuple[int, Any, int, str, str | None]] = [
        (trader, {"group_id": 987654321}, 422, "unknown_group", "group_id"),
        (trader, {"group_id": gold, "valid_from": (today - timedelta(days=1)).isoformat()},
         422, "past_day", "valid_from"),
        (trader, {"group_id": gold, "valid_from": "2026-13-01"}, 422, "bad_date", "valid_from"),
        (trader, {"group_id": gold, "valid_from": 20261231}, 422, "bad_date", "valid_from"),
        (trader, {"group_id": "gold"}, 422, "bad_field", "group_id"),
        (trader, {"group_id": 0}, 422, "bad_field", "group_id"),
        (trader, {"group_id": True}, 422, "bad_field", "group_id"),
        (trader, {"valid_from": today.isoformat()}, 422, "bad_field", "group_id"),
        (OPS, {"group_id": gold}, 409, "not_trader", None),
        (987654321, {"group_id": gold}, 404, "unknown_user", None),
    ]
    for target, body, status, code, field in cases:
        got, answer = await admin.put(target, body)
        assert (got, answer["error"]["code"], answer["error"]["field"]) == (
            status, code, field), (body, answer)
    got, answer = await admin.put(trader, {"group_id": gold,
                                           "valid_from": (today - timedelta(days=1)).isoformat()})
    assert answer["error"]["message"] == en("api.error.group.past_day", today=today.isoformat())
    status, answer = await call(client, "PUT", f"/api/admin/users/{trader}/group", ROUTE,
                                headers=auth(ADMIN), json={"group_id": gold})
    assert (status, answer["error"]["code"]) == (400, "idempotency_key_required")
    assert not await RateGroupMember.filter(user_id__in=[trader, OPS]).exists()
    assert not await AuditEntry.filter(action="rate.member").exists()
    assert await _share(trader, "okx", today) == (
        (await Exchange.get(id="okx")).trader_share, "exchange")
    # Not a trader: the file offers no group to set.
    status, body = await call(client, "GET", f"/api/admin/users/{OPS}", FILE,
                              headers=auth(ADMIN))
    assert (status, body["actions"]["group"]) == (200, False)


async def test_refusals_are_in_the_readers_language(
        client: TestClient, tiers: dict[str, int], i18n: Catalog) -> None:
    trader, _ = await funded_trader(D(10))
    await User.filter(id=ADMIN).update(locale="ru")
    ru = i18n.translator("ru")
    admin = Writer(client, ADMIN, "ru")
    status, answer = await admin.put(trader, {"group_id": 987654321})
    assert (status, answer["error"]["message"]) == (422, ru("api.error.group.unknown_group"))
    yesterday = (_today() - timedelta(days=1)).isoformat()
    status, answer = await admin.put(trader, {"group_id": tiers["Gold"],
                                              "valid_from": yesterday})
    message = answer["error"]["message"]
    assert status == 422 and re.search("[а-яё]", message, re.I), message
    assert _today().isoformat() in message
    # A viewer may read the file, not set the group: 403 in Russian, audited, nothing set.
    await User.filter(id=VIEWER).update(locale="ru")
    status, answer = await Writer(client, VIEWER, "ru").put(trader,
                                                            {"group_id": tiers["Gold"]})
    assert (status, answer["error"]["code"]) == (403, "not_allowed")
    assert re.search("[а-яё]", answer["error"]["message"], re.I), answer
    assert await AuditEntry.filter(actor_id=VIEWER, action="admin.refused").count() == 1
    status, body = await call(client, "GET", f"/api/admin/users/{trader}", FILE,
                              headers=auth(VIEWER))
    assert (status, body["actions"]["group"], body["group"]) == (200, False, None)
    assert not await RateGroupMember.filter(user_id=trader).exists()


async def test_the_service_checks_the_role_again(tiers: dict[str, int], db: str) -> None:
    """Demoted between the route's check and the write: refused by the service, audited."""
    trader, _ = await funded_trader(D(10))
    await User.create(id=ADMIN, first_name="Was admin", role=Role.OPS)
    with pytest.raises(MembershipError) as refused:
        await MembershipAdmin().set_group(ADMIN, trader, tiers["Gold"], None, _today())
    assert refused.value.refusal is MembershipRefusal.NOT_ALLOWED
    assert await AuditEntry.filter(actor_id=ADMIN, action="rate.member_refused").count() == 1
    assert not await RateGroupMember.filter(user_id=trader).exists()
