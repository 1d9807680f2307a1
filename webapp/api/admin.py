"""The admin screens' API (issue 14): the users directory, a user's file, and ban / unban /
role on it. Every route checks the caller's role against services/permissions.py, from the
database; a refusal is a 403 in the caller's language and is audited, like a refused command
in the admin chat. Changes go through services/staff.py (its own checks, audit and message)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from aiohttp import web

from services.directory import SORTS, STATES, AuditFilters, UserFilters, UserRow, audit_page
from services.models import Role, SignupSource
from services.permissions import Permission, allowed
from services.rebates.rate_views import groups, member_group
from services.staff import StaffError, StaffRefusal
from webapp.api.common import (
    ApiError,
    Caller,
    caller,
    json_answer,
    json_body,
    moment_json,
    money_json,
    path_id,
    plain,
    query_date,
    query_int,
)
from webapp.api.deps import API
from webapp.api.idempotency import once

PAGE_SIZE = 25
ROLES = tuple(role.value for role in Role)
SOURCES = tuple(source.value for source in SignupSource)
REFUSAL_STATUS = {StaffRefusal.NOT_ALLOWED: 403, StaffRefusal.UNKNOWN_USER: 404}


async def operator(request: web.Request, permission: Permission) -> Caller:
    """The caller, if their role allows ``permission``; else a 403, audited."""
    who = await caller(request)
    if who.user.is_banned or not allowed(who.user.role, permission):
        await request.app[API].staff.audit_refused_command(
            who.user.id, f"api:{request.method} {request.path}")
        raise ApiError(403, "not_allowed", plain(who.t("admin.staff.refused.not_allowed")))
    return who


def _choice(request: web.Request, name: str, choices: tuple[str, ...], who: Caller) -> str | None:
    value = request.query.get(name, "").strip()
    if not value:
        return None
    if value not in choices:
        raise ApiError(400, f"bad_{name}", plain(who.t(
            "api.error.bad_choice", field=name, choices=", ".join(choices))), name)
    return value


def _row(row: UserRow, who: Caller) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "username": row.username, "role": row.role,
            "role_text": plain(who.t(f"admin.role.{row.role}")), "banned": row.banned,
            "source": row.source, "created_at": moment_json(row.created_at, who.locale),
            "exchanges": list(row.exchanges), "available": money_json(row.available,
                                                                      who.locale)}


async def users(request: web.Request) -> web.Response:
    who = await operator(request, Permission.USERS_VIEW)
    deps = request.app[API]
    exchange = _choice(request, "exchange", tuple(e.id for e in await deps.exchanges.list()),
                       who)
    balance = _choice(request, "has_balance", ("yes", "no"), who)
    filters = UserFilters(
        query=request.query.get("q", "")[:80], state=_choice(request, "state", STATES, who),
        role=_choice(request, "role", ROLES, who),
        source=_choice(request, "source", SOURCES, who), exchange=exchange,
        has_balance=None if balance is None else balance == "yes",
        sort=_choice(request, "sort", tuple(SORTS), who) or "newest")
    page_size = query_int(request, "page_size", who.t, PAGE_SIZE, 1, 200)
    page = query_int(request, "page", who.t, 1, 1, 1_000_000)
    found = await deps.directory.search(filters, page, page_size)
    return json_answer({
        "users": [_row(row, who) for row in found.users], "page": found.page,
        "pages": found.pages, "page_size": found.page_size, "total": found.total,
        "exchanges": [{"id": e.id, "name": e.name} for e in await deps.exchanges.list()]})


async def user_file(request: web.Request, who: Caller, user_id: int) -> web.Response:
    deps = request.app[API]
    row = await deps.directory.user(user_id)
    if row is None:
        raise ApiError(404, "not_found", plain(who.t("api.error.not_found")))
    locale = who.locale
    summary = await deps.balances.summary(user_id)
    oneself = user_id == who.user.id
    today = deps.clock().date()
    group, upcoming = (await member_group(user_id, today),
                       await deps.memberships.upcoming(user_id, today))
    return json_answer({
        "user": {**_row(row, who), "locale": row.locale},
        "accounts": [{"exchange_id": a.exchange_id, "exchange_name": a.exchange_name,
                      "uid": a.uid, "status": a.status.value,
                      "status_text": plain(who.t(f"accounts.status.{a.status.value}")),
                      "reason": a.reject_reason}
                     for a in await deps.accounts.list_for_user(user_id)],
        "balance": {"available": money_json(summary.available, locale),
                    "held": money_json(summary.held, locale),
                    "paid_out": money_json(summary.paid_out, locale),
                    "total_earned": money_json(summary.total_earned, locale)},
        "operations": [{"id": op.id, "kind": op.kind, "at": moment_json(op.at, locale),
                        "memo": op.memo,
                        "postings": [{"account": p.account, "amount": money_json(p.amount,
                                                                                 locale)}
                                     for p in op.postings]}
                       for op in await deps.directory.operations(user_id)],
        "withdrawals": [{"id": w.id, "status": w.status.value,
                         "status_text": plain(who.t(f"withdraw.status.{w.status.value}")),
                         "amount": money_json(w.amount, locale),
                         "created_at": moment_json(w.created_at, locale)}
                        for w in await deps.withdrawals.recent(user_id, 20)],
        "events": [{"name": name, "at": moment_json(at, locale)}
                   for name, at in await deps.directory.events(user_id)],
        "actions": {
            "ban": not oneself and not row.banned and row.role == Role.TRADER.value
            and allowed(who.user.role, Permission.USERS_BAN),
            "unban": not oneself and row.banned and allowed(who.user.role,
                                                            Permission.USERS_BAN),
            "role": not oneself and allowed(who.user.role, Permission.USERS_ROLE),
            "group": row.role == Role.TRADER.value and allowed(who.user.role,
                                                               Permission.RATES)},
        "roles": [{"code": role, "name": plain(who.t(f"admin.role.{role}"))} for role in ROLES],
        # The rate group in force today, the next change set for a later day, the choices.
        "group": None if group is None else {"id": group.id, "name": group.name},
        "group_upcoming": None if upcoming is None else {
            "valid_from": upcoming.valid_from.isoformat(),
            "group": None if upcoming.group_id is None else {"id": upcoming.group_id,
                                                             "name": upcoming.name or ""}},
        "groups": [{"id": line.id, "name": line.name} for line in await groups(today)],
    })


async def user(request: web.Request) -> web.Response:
    who = await operator(request, Permission.USERS_VIEW)
    return await user_file(request, who, path_id(request, who.t))


def _refused(refused: StaffError, who: Caller) -> ApiError:
    return ApiError(REFUSAL_STATUS.get(refused.refusal, 409), refused.refusal.value,
                    plain(who.t(f"admin.staff.refused.{refused.refusal.value}")))


async def _ban(request: web.Request, banned: bool) -> web.Response:
    who = await operator(request, Permission.USERS_BAN)
    target = path_id(request, who.t)
    deps = request.app[API]

    async def write(_key: str) -> web.Response:
        try:
            await deps.staff.set_banned(who.user.id, target, banned)
        except StaffError as refused:
            raise _refused(refused, who) from None
        return await user_file(request, who, target)

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)


async def ban(request: web.Request) -> web.Response:
    return await _ban(request, True)


async def unban(request: web.Request) -> web.Response:
    return await _ban(request, False)


async def set_role(request: web.Request) -> web.Response:
    who = await operator(request, Permission.USERS_ROLE)
    target = path_id(request, who.t)
    deps = request.app[API]

    async def write(_key: str) -> web.Response:
        body = await json_body(request, who.t)
        role = body.get("role")
        if role not in ROLES:
            raise ApiError(422, "bad_role", plain(who.t(
                "api.error.bad_choice", field="role", choices=", ".join(ROLES))), "role")
        try:
            await deps.staff.set_role(who.user.id, target, Role(role))
        except StaffError as refused:
            raise _refused(refused, who) from None
        return await user_file(request, who, target)

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)


async def audit_log(request: web.Request) -> web.Response:
    """The audit log with filters (who, what, which object, when), newest first, and whether
    its hash chain checked out at the hourly check (bot/audit_jobs.py: walking it here, on
    every page, would cost seconds on a long log)."""
    who = await operator(request, Permission.AUDIT_VIEW)
    actor = request.query.get("actor", "").strip()
    if actor and not (actor.isdigit() and len(actor) < 19):  # a Telegram user id
        raise ApiError(400, "bad_number", plain(who.t(
            "api.error.bad_number", field="actor", low=1, high="9223372036854775807")),
            "actor")
    start, end = query_date(request, "from", who.t), query_date(request, "to", who.t)
    filters = AuditFilters(
        actor_id=int(actor) if actor else None,
        action=request.query.get("action", "").strip()[:48] or None,
        object_type=request.query.get("object_type", "").strip()[:32] or None,
        object_id=request.query.get("object_id", "").strip()[:64] or None,
        start=datetime.combine(start, time.min, UTC) if start else None,
        end=datetime.combine(end + timedelta(days=1), time.min, UTC) if end else None)
    page_size = query_int(request, "page_size", who.t, 50, 1, 200)
    page = query_int(request, "page", who.t, 1, 1, 1_000_000)
    rows, total = await audit_page(filters, page, page_size)
    broken = next((alert for alert in await request.app[API].alerts.firing()
                   if alert["family"] == "audit_chain"), None)
    return json_answer({
        "entries": [{"seq": row.seq, "at": moment_json(row.at, who.locale),
                     "actor_id": row.actor_id, "action": row.action,
                     "object_type": row.object_type, "object_id": row.object_id,
                     "before": row.before, "after": row.after} for row in rows],
        "page": page, "pages": max(1, -(-total // page_size)), "page_size": page_size,
        "total": total,
        "chain": {"ok": broken is None,
                  "since": None if broken is None else moment_json(broken["since"], who.locale),
                  "broken_at": None if broken is None else broken["params"].get("place")}})
