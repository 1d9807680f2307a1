"""The admin screens' API (issue 14): an authorization matrix of every admin route against
every role and a plain trader (only what services/permissions.py allows passes; each refusal
is a 403 and audited); the directory's search, filters, sorting and pages against a
recomputation from the rows inserted; a user's file with each operation's ledger postings;
ban / unban / role with their refusals. Every answer is checked against the OpenAPI file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tortoise import Tortoise

from bot.app import Services
from services.adjustments import AdjustmentService
from services.credentials import ApiSecret, CredentialCipher
from services.i18n import Catalog
from services.models import (
    AccountStatus,
    AuditEntry,
    Exchange,
    ExchangeAccount,
    LedgerAdjustment,
    PayoutMethod,
    Role,
    User,
    Withdrawal,
    WithdrawalStatus,
)
from services.models.rates import RateGroupMember
from services.payouts.requests import Destination
from services.permissions import ALLOWED, Permission
from services.rebates import RateService
from tests.payouts.helpers import funded_trader, withdrawals
from tests.support.api_app import auth, build_app, call

D = Decimal
STAFF = {"admin": 930, "finance": 931, "ops": 932, "viewer": 933, "trader": 934}


@pytest.fixture
async def client(db, redis, redis_prefix, services: Services,  # type: ignore[no-untyped-def]
                 i18n: Catalog) -> AsyncIterator[TestClient]:
    for role, user_id in STAFF.items():
        await User.create(id=user_id, first_name=role.title(), username=f"{role}_user",
                          role=role)
    app = build_app(services, i18n, redis, redis_prefix)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


ROUTES = [
    ("GET", "/api/admin/users", "/api/admin/users", Permission.USERS_VIEW, None),
    ("GET", "/api/admin/users/{target}", "/api/admin/users/{id}", Permission.USERS_VIEW, None),
    ("POST", "/api/admin/users/{target}/ban", "/api/admin/users/{id}/ban",
     Permission.USERS_BAN, None),
    ("POST", "/api/admin/users/{target}/unban", "/api/admin/users/{id}/unban",
     Permission.USERS_BAN, None),
    ("PUT", "/api/admin/users/{target}/role", "/api/admin/users/{id}/role",
     Permission.USERS_ROLE, {"role": "viewer"}),
    # The rate group: the trader is in a group from today (_membership); out of it.
    ("PUT", "/api/admin/users/{target}/group", "/api/admin/users/{id}/group",
     Permission.RATES, {"group_id": None}),
    # The payout screens: {withdrawal} is a request waiting for approval (for retry and paid,
    # one the exchange refused), of the funded trader.
    ("GET", "/api/admin/payouts/queue", "/api/admin/payouts/queue",
     Permission.PAYOUTS_DECIDE, None),
    ("POST", "/api/admin/payouts/{withdrawal}/approve", "/api/admin/payouts/{id}/approve",
     Permission.PAYOUTS_DECIDE, {"revision": 1}),
    ("POST", "/api/admin/payouts/{withdrawal}/reject", "/api/admin/payouts/{id}/reject",
     Permission.PAYOUTS_DECIDE, {"revision": 1, "reason": "Not to this address"}),
    ("POST", "/api/admin/payouts/{withdrawal}/retry", "/api/admin/payouts/{id}/retry",
     Permission.PAYOUTS_DECIDE, {"revision": 1}),
    ("POST", "/api/admin/payouts/{withdrawal}/paid", "/api/admin/payouts/{id}/paid",
     Permission.PAYOUTS_DECIDE, {"revision": 1, "tx_hash": "T1234567890"}),
    ("GET", "/api/admin/payouts/settings", "/api/admin/payouts/settings",
     Permission.PAYOUTS_DECIDE, None),
    ("PATCH", "/api/admin/payouts/settings", "/api/admin/payouts/settings",
     Permission.PAYOUTS_CONFIG, {"approval_threshold": "600"}),
    ("PATCH", "/api/admin/payouts/networks/USDT-TRC20", "/api/admin/payouts/networks/{id}",
     Permission.PAYOUTS_CONFIG, {"min_amount": "20"}),
    # Manual adjustments: {adjustment} waits for a second admin, asked for by another admin
    # (for cancel, by STAFF's admin: only the requester may withdraw it).
    ("POST", "/api/admin/users/{target}/adjustments", "/api/admin/users/{id}/adjustments",
     Permission.ADJUST, {"direction": "credit", "amount": "5", "reason": "matrix"}),
    ("GET", "/api/admin/adjustments", "/api/admin/adjustments", Permission.USERS_VIEW, None),
    ("POST", "/api/admin/adjustments/{adjustment}/approve",
     "/api/admin/adjustments/{id}/approve", Permission.ADJUST, {"revision": 1}),
    ("POST", "/api/admin/adjustments/{adjustment}/reject",
     "/api/admin/adjustments/{id}/reject", Permission.ADJUST, {"revision": 1}),
    ("POST", "/api/admin/adjustments/{adjustment}/cancel",
     "/api/admin/adjustments/{id}/cancel", Permission.ADJUST, {"revision": 1}),
    # The dashboards (seed 000 §8: executive and product for every operator, exchanges for
    # operations, payouts for finance and admins).
    ("GET", "/api/admin/dashboards/executive", "/api/admin/dashboards/executive",
     Permission.STATS, None),
    ("GET", "/api/admin/dashboards/product", "/api/admin/dashboards/product",
     Permission.STATS, None),
    ("GET", "/api/admin/dashboards/exchanges", "/api/admin/dashboards/exchanges",
     Permission.EXCHANGES_VIEW, None),
    ("GET", "/api/admin/dashboards/payouts", "/api/admin/dashboards/payouts",
     Permission.PAYOUTS_DECIDE, None),
    # The Exchanges screen (for DELETE credentials, OKX has a stored key: _stored_key).
    ("GET", "/api/admin/exchanges", "/api/admin/exchanges", Permission.EXCHANGES_VIEW, None),
    ("GET", "/api/admin/exchanges/okx", "/api/admin/exchanges/{exchange}",
     Permission.EXCHANGES_VIEW, None),
    ("PATCH", "/api/admin/exchanges/okx", "/api/admin/exchanges/{exchange}",
     Permission.EXCHANGES_EDIT, {"enabled": False, "sync_interval_minutes": 60}),
    ("PUT", "/api/admin/exchanges/okx/share", "/api/admin/exchanges/{exchange}/share",
     Permission.RATES, {"share_percent": "65"}),
    ("PUT", "/api/admin/exchanges/okx/credentials",
     "/api/admin/exchanges/{exchange}/credentials", Permission.EXCHANGES_EDIT,
     {"api_key": "matrix-key-0001", "api_secret": "matrix-secret"}),
    ("DELETE", "/api/admin/exchanges/okx/credentials",
     "/api/admin/exchanges/{exchange}/credentials", Permission.EXCHANGES_EDIT, None),
    ("POST", "/api/admin/credentials/rotate", "/api/admin/credentials/rotate",
     Permission.EXCHANGES_EDIT, None),
]
SECOND_ADMIN = 936  # asks for the adjustments the matrix decides on


async def _pending_adjustment(path: str, target: int) -> int | None:
    if "{adjustment}" not in path:
        return None
    await User.get_or_create(id=SECOND_ADMIN, defaults={"first_name": "Second",
                                                         "role": Role.ADMIN})
    requester = STAFF["admin"] if path.endswith("/cancel") else SECOND_ADMIN
    made = await AdjustmentService().request(requester, target, "credit", "500", "matrix",
                                             None, "matrix-key")
    return made.adjustment.id


async def _payout_target(path: str) -> tuple[int, int | None]:
    """The trader, and for a decision route their request (in the state the route acts on)."""
    if "{withdrawal}" not in path:
        return (await funded_trader(D(10)))[0], None
    trader, _ = await funded_trader(D(900))
    made = await withdrawals().create(trader, Destination(PayoutMethod.INTERNAL,
                                                          exchange_id="okx"), D(800))
    if path.endswith(("/retry", "/paid")):
        await Withdrawal.filter(id=made.id).update(status=WithdrawalStatus.ERROR)
    return trader, made.id


async def _membership(path: str, target: int) -> list[tuple[Any, ...]] | None:
    """For the rate group's route: the trader in a group from today; their memberships."""
    if not path.endswith("/group"):
        return None
    rates = RateService()
    group_id = await rates.create_group("Matrix")
    await rates.set_user_group(target, group_id, datetime.now(UTC).date())
    return await _memberships(target)


async def _memberships(user_id: int) -> list[tuple[Any, ...]]:
    return [(m.group_id, m.valid_from) for m in await RateGroupMember.filter(
        user_id=user_id).order_by("valid_from")]


async def _stored_key(method: str, path: str) -> tuple[Any, ...] | None:
    """For the Exchanges routes: a key stored for OKX to remove; OKX as it is before."""
    if "/exchanges" not in path and "/credentials" not in path:
        return None
    if method == "DELETE":
        await Tortoise.get_connection("default").execute_query(
            "INSERT INTO exchange_credentials (exchange_id, ciphertext, hint, created_at) "
            "VALUES ('okx', $1, 'KEY1', now())", [CredentialCipher(b"test-secret").encrypt(
                ApiSecret("stored-key-KEY1", "stored-secret"))])
    return await _exchange_state()


async def _exchange_state() -> tuple[Any, ...]:
    okx = await Exchange.get(id="okx")
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT id, hint, revoked_at FROM exchange_credentials ORDER BY id", [])
    return (okx.enabled, okx.sync_interval_minutes, okx.trader_share,
            [tuple(row.values()) for row in rows])


def _matrix() -> list[Any]:
    return [pytest.param(method, path, route, permission, body, who,
                         who != "trader" and Role(who) in ALLOWED[permission],
                         id=f"{method}-{route.rsplit('/', 1)[-1]}-{who}")
            for method, path, route, permission, body in ROUTES for who in STAFF]


@pytest.mark.parametrize("method, path, route, permission, body, who, ok", _matrix())
async def test_every_admin_route_against_every_role(
    client: TestClient, method: str, path: str, route: str, permission: Permission,
    body: dict[str, str] | None, who: str, ok: bool,
) -> None:
    target, withdrawal = await _payout_target(path)
    if path.endswith("/unban"):
        await User.filter(id=target).update(is_banned=True)
    before = await Withdrawal.get_or_none(id=withdrawal or 0)
    adjustment = await _pending_adjustment(path, target)
    exchange = await _stored_key(method, path)
    memberships = await _membership(path, target)
    headers = {**auth(STAFF[who]), "Idempotency-Key": f"key-{who}-{method}-{len(path)}"}
    status, answer = await call(client, method, path.format(
        target=target, withdrawal=withdrawal, adjustment=adjustment), route,
        headers=headers, json=body)
    refusals = await AuditEntry.filter(actor_id=STAFF[who], action="admin.refused").count()
    if ok:
        assert status in (200, 201), answer
        assert refusals == 0
    else:
        assert (status, answer["error"]["code"]) == (403, "not_allowed"), answer
        assert refusals == 1
        trader = await User.get(id=target)  # and nothing changed
        assert (trader.role, trader.is_banned) == (Role.TRADER, path.endswith("/unban"))
        if before is not None:
            after = await Withdrawal.get(id=before.id)
            assert (after.status, after.revision) == (before.status, before.revision)
        if adjustment is not None:
            assert (await LedgerAdjustment.get(id=adjustment)).revision == 1
        assert not await LedgerAdjustment.filter(requested_by=STAFF[who]).exists()
        if exchange is not None:
            assert await _exchange_state() == exchange
        if memberships is not None:
            assert await _memberships(target) == memberships
        assert await AuditEntry.filter(actor_id=STAFF[who]).exclude(
            action="admin.refused").count() == 0


async def _population() -> list[dict[str, Any]]:
    """Twelve traders with known attributes; returned as the directory should show them."""
    people = []
    for n in range(12):
        user_id, uid = await funded_trader(D(5 * n) if n % 3 else D(0),
                                           "okx" if n % 2 else "bybit")
        source = ("organic", "influencer", "channel")[n % 3]
        await User.filter(id=user_id).update(
            first_name=f"Person {n:02d}", username=f"person_{n}", signup_source=source,
            is_banned=n == 7)
        people.append({"id": user_id, "uid": uid, "n": n, "source": source,
                       "exchange": "okx" if n % 2 else "bybit", "banned": n == 7})
    return people


async def test_search_filters_sorting_and_pages(client: TestClient) -> None:
    people = await _population()
    admin = auth(STAFF["admin"])

    async def ids(query: str) -> list[int]:
        status, body = await call(client, "GET", f"/api/admin/users?{query}",
                                  "/api/admin/users", headers=admin)
        assert status == 200, body
        return [row["id"] for row in body["users"]]

    mine = {p["id"] for p in people}
    assert set(await ids("role=trader&page_size=200")) >= mine
    assert await ids(f"q={people[3]['uid']}") == [people[3]["id"]]
    assert await ids(f"q={people[4]['id']}") == [people[4]["id"]]
    assert await ids("q=@PERSON_5") == [people[5]["id"]]
    assert set(await ids("q=Person 1&page_size=200")) == {p["id"] for p in people
                                                           if p["n"] in (10, 11)}
    assert await ids("state=banned") == [people[7]["id"]]
    assert set(await ids("source=influencer&page_size=200")) == {
        p["id"] for p in people if p["source"] == "influencer"}
    assert set(await ids("exchange=okx&page_size=200")) == {
        p["id"] for p in people if p["exchange"] == "okx"}
    with_balance = set(await ids("has_balance=yes&page_size=200"))
    assert with_balance == {p["id"] for p in people if p["n"] % 3}
    by_name = await ids("sort=name&role=trader&page_size=200")
    assert [i for i in by_name if i in mine] == [p["id"] for p in people]
    by_balance = await ids("sort=balance&has_balance=yes&page_size=200")
    assert by_balance[0] == people[11]["id"]  # 55 USDT, the most
    # Pages: every trader once, in order, and the counts add up.
    seen: list[int] = []
    status, first = await call(client, "GET", "/api/admin/users?role=trader&page_size=5",
                               "/api/admin/users", headers=admin)
    for page in range(1, first["pages"] + 1):
        seen += await ids(f"role=trader&page_size=5&page={page}&sort=oldest")
    assert len(seen) == len(set(seen)) == first["total"] == 13  # with STAFF["trader"]
    assert await ids("role=trader&page_size=5&page=99") == []
    for bad, field in (("sort=richest", "sort"), ("state=gone", "state"),
                       ("has_balance=maybe", "has_balance"), ("exchange=nasdaq", "exchange")):
        status, body = await call(client, "GET", f"/api/admin/users?{bad}",
                                  "/api/admin/users", headers=admin)
        assert (status, body["error"]["field"]) == (400, field), bad


async def test_a_users_file_shows_each_operation_with_its_postings(
    client: TestClient,
) -> None:
    trader, uid = await funded_trader(D(30))
    status, body = await call(client, "GET", f"/api/admin/users/{trader}",
                              "/api/admin/users/{id}", headers=auth(STAFF["viewer"]))
    assert status == 200, body
    assert body["user"]["id"] == trader and body["accounts"][0]["uid"] == uid
    assert body["balance"]["available"]["amount"] == body["user"]["available"]["amount"]
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT p.entry_id, a.kind, a.owner, p.amount FROM ledger_postings p "
        "JOIN ledger_accounts a ON a.id = p.account_id WHERE p.entry_id IN (SELECT entry_id "
        "FROM ledger_postings q JOIN ledger_accounts b ON b.id = q.account_id "
        "WHERE b.owner = $1)", [str(trader)])
    assert body["operations"], "the accrual that funded them"
    for operation in body["operations"]:
        mine = [r for r in rows if r["entry_id"] == operation["id"]]
        assert sorted(D(p["amount"]["amount"]) for p in operation["postings"]) == sorted(
            r["amount"] for r in mine)
        assert sum(D(p["amount"]["amount"]) for p in operation["postings"]) == 0  # balanced
    assert body["actions"] == {"ban": False, "unban": False, "role": False,
                               "group": False}  # a viewer reads
    status, body = await call(client, "GET", "/api/admin/users/999", "/api/admin/users/{id}",
                              headers=auth(STAFF["viewer"]))
    assert status == 404


async def test_ban_unban_and_role_with_their_refusals(client: TestClient) -> None:
    trader, _ = await funded_trader(D(10))
    ops = {**auth(STAFF["ops"]), "Idempotency-Key": "ban-once-0001"}
    status, body = await call(client, "POST", f"/api/admin/users/{trader}/ban",
                              "/api/admin/users/{id}/ban", headers=ops)
    assert status == 200 and body["user"]["banned"] and body["actions"]["unban"]
    again = {**auth(STAFF["ops"]), "Idempotency-Key": "ban-twice-002"}
    status, body = await call(client, "POST", f"/api/admin/users/{trader}/ban",
                              "/api/admin/users/{id}/ban", headers=again)
    assert (status, body["error"]["code"]) == (409, "unchanged")
    status, body = await call(client, "POST", f"/api/admin/users/{STAFF['ops']}/ban",
                              "/api/admin/users/{id}/ban",
                              headers={**auth(STAFF["ops"]), "Idempotency-Key": "ban-self-003"})
    assert (status, body["error"]["code"]) == (409, "yourself")
    status, body = await call(client, "POST", f"/api/admin/users/{STAFF['finance']}/ban",
                              "/api/admin/users/{id}/ban",
                              headers={**auth(STAFF["ops"]), "Idempotency-Key": "ban-staff-04"})
    assert (status, body["error"]["code"]) == (409, "staff_ban")
    admin = {**auth(STAFF["admin"]), "Idempotency-Key": "role-give-005"}
    status, body = await call(client, "PUT", f"/api/admin/users/{trader}/role",
                              "/api/admin/users/{id}/role", headers=admin,
                              json={"role": "emperor"})
    assert (status, body["error"]["field"]) == (422, "role")
    admin["Idempotency-Key"] = "role-give-006"
    status, body = await call(client, "PUT", f"/api/admin/users/{trader}/role",
                              "/api/admin/users/{id}/role", headers=admin,
                              json={"role": "viewer"})
    assert status == 200 and body["user"]["role"] == "viewer"
    actions = [a.action for a in await AuditEntry.filter(object_id=str(trader)).order_by("id")]
    assert actions == ["user.ban", "user.ban_refused", "user.role"]
    assert await ExchangeAccount.filter(user_id=trader,  # a ban keeps the history
                                        status=AccountStatus.VERIFIED).exists()


async def test_the_audit_log_filtered_and_the_chains_state(client: TestClient,
                                                           services: Services) -> None:
    trader, _ = await funded_trader(D(10))
    await services.staff.set_banned(STAFF["ops"], trader, True)
    await services.staff.set_banned(STAFF["ops"], trader, False)
    await services.staff.set_role(STAFF["admin"], trader, Role.VIEWER)
    admin = auth(STAFF["admin"])

    async def entries(query: str) -> dict[str, Any]:
        status, body = await call(client, "GET", f"/api/admin/audit?{query}",
                                  "/api/admin/audit", headers=admin)
        assert status == 200, body
        return dict(body)

    everything = await entries(f"object_id={trader}")
    assert [e["action"] for e in everything["entries"]] == ["user.role", "user.unban",
                                                            "user.ban"]  # newest first
    assert everything["chain"] == {"ok": True, "since": None, "broken_at": None}
    assert [e["action"] for e in (await entries(f"actor={STAFF['ops']}"))["entries"]] == [
        "user.unban", "user.ban"]
    assert (await entries("action=user.ba"))["total"] == 1
    paged = await entries(f"object_id={trader}&page_size=2&page=2")
    assert (paged["pages"], [e["action"] for e in paged["entries"]]) == (2, ["user.ban"])
    status, body = await call(client, "GET", "/api/admin/audit?actor=ops",
                              "/api/admin/audit", headers=admin)
    assert (status, body["error"]["field"]) == (400, "actor")
    status, body = await call(client, "GET", "/api/admin/audit", "/api/admin/audit",
                              headers=auth(STAFF["ops"]))
    assert status == 403  # ops act on people; reading the log is admin's and finance's
