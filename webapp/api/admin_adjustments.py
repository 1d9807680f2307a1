"""Manual ledger adjustments in the admin screens (issue 14): ask for one on a user's page,
list them (those awaiting a second admin, or one user's), and the second admin's approve /
reject or the requester's cancel. Every route checks the caller's role (services/permissions.py,
from the database; a refusal is a 403, audited); the service checks it again with everything
else (services/adjustments/). Writes take an Idempotency-Key, which is also the service's own
request key: a retried request is the same adjustment even if Redis forgot the key."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.adjustments import (
    MAX_AMOUNT,
    MAX_DOCUMENT_REF,
    MAX_REASON,
    AdjustmentDTO,
    AdjustmentError,
    AdjustmentRefusal,
)
from services.formatting import money
from services.models import AdjustmentStatus
from services.permissions import Permission, allowed
from webapp.api.admin import operator
from webapp.api.common import (
    ApiError,
    Caller,
    id_field,
    json_answer,
    json_body,
    moment_json,
    money_json,
    path_id,
    plain,
)
from webapp.api.deps import API
from webapp.api.idempotency import once

STATUSES = tuple(status.value for status in AdjustmentStatus)
_STATUS = {AdjustmentRefusal.NOT_ALLOWED: 403, AdjustmentRefusal.UNKNOWN_USER: 404,
           AdjustmentRefusal.NOT_FOUND: 404}
_FIELD = {AdjustmentRefusal.BAD_DIRECTION: "direction", AdjustmentRefusal.BAD_AMOUNT: "amount",
          AdjustmentRefusal.TOO_PRECISE: "amount", AdjustmentRefusal.TOO_LARGE: "amount",
          AdjustmentRefusal.NO_REASON: "reason", AdjustmentRefusal.REASON_TOO_LONG: "reason",
          AdjustmentRefusal.BAD_DOCUMENT: "document_ref",
          AdjustmentRefusal.INSUFFICIENT_FUNDS: "amount"}


def _may_adjust(who: Caller) -> bool:
    return not who.user.is_banned and allowed(who.user.role, Permission.ADJUST)


def _refused(refused: AdjustmentError, who: Caller) -> ApiError:
    code = refused.refusal
    field = _FIELD.get(code)
    status = _STATUS.get(code, 422 if field and code is not AdjustmentRefusal.INSUFFICIENT_FUNDS
                         else 409)
    limits = {"max": money(MAX_AMOUNT, who.locale), "reason": MAX_REASON,
              "document": MAX_DOCUMENT_REF}
    return ApiError(status, code.value,
                    plain(who.t(f"api.error.adjust.{code.value}", **limits)), field)


def adjustment_json(item: AdjustmentDTO, who: Caller) -> dict[str, Any]:
    """One adjustment, and what the caller may do with it now (the service checks again)."""
    me, can = who.user.id, _may_adjust(who)
    waiting = item.status is AdjustmentStatus.AWAITING_SECOND
    return {
        "id": item.id, "user_id": item.user_id, "user_name": item.user_name,
        "direction": item.direction.value,
        "direction_text": plain(who.t(f"app.admin.adjust.direction.{item.direction.value}")),
        "amount": money_json(item.amount, who.locale), "asset": item.asset,
        "reason": item.reason, "document_ref": item.document_ref,
        "status": item.status.value,
        "status_text": plain(who.t(f"app.admin.adjust.status.{item.status.value}")),
        "revision": item.revision, "requested_by": item.requested_by,
        "requested_by_name": item.requested_by_name, "decided_by": item.decided_by,
        "entry_id": item.entry_id, "created_at": moment_json(item.created_at, who.locale),
        "decided_at": moment_json(item.decided_at, who.locale),
        "actions": {
            "approve": can and waiting and me not in (item.requested_by, item.user_id),
            "reject": can and waiting and me != item.requested_by,
            "cancel": can and waiting and me == item.requested_by,
        },
    }


async def listing(request: web.Request) -> web.Response:
    """``?status=awaiting_second`` (the second admins' queue, oldest first) and/or ``?user=``
    (one user's, newest first), with the threshold and whether the caller may ask for one."""
    who = await operator(request, Permission.USERS_VIEW)
    status = request.query.get("status", "").strip() or None
    if status is not None and status not in STATUSES:
        raise ApiError(400, "bad_status", plain(who.t(
            "api.error.bad_choice", field="status", choices=", ".join(STATUSES))), "status")
    user = request.query.get("user", "").strip()
    if user and not (user.isdigit() and 0 < len(user) < 19):
        raise ApiError(400, "bad_number", plain(who.t(
            "api.error.bad_number", field="user", low=1, high="9223372036854775807")), "user")
    user_id = int(user) if user else None
    service = request.app[API].adjustments
    found = await service.listing(status=AdjustmentStatus(status) if status else None,
                                  user_id=user_id)
    return json_answer({
        "adjustments": [adjustment_json(item, who) for item in found],
        "second_admin_above": money_json(service.second_admin_above, who.locale),
        "can_request": _may_adjust(who) and user_id != who.user.id,
    })


async def create(request: web.Request) -> web.Response:
    who = await operator(request, Permission.ADJUST)
    target = path_id(request, who.t)
    deps = request.app[API]

    async def write(key: str) -> web.Response:
        body = await json_body(request, who.t)
        try:
            outcome = await deps.adjustments.request(
                who.user.id, target, body.get("direction"), body.get("amount"),
                body.get("reason"), body.get("document_ref"), key)
        except AdjustmentError as refused:
            raise _refused(refused, who) from None
        return json_answer({"adjustment": adjustment_json(outcome.adjustment, who)},
                           status=201)

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)


async def _decide(request: web.Request, action: str) -> web.Response:
    who = await operator(request, Permission.ADJUST)
    adjustment_id = path_id(request, who.t)
    deps = request.app[API]

    async def write(_key: str) -> web.Response:
        body = await json_body(request, who.t)
        revision = id_field(body, "revision", who.t)
        assert revision is not None
        decide = {"approve": deps.adjustments.approve, "reject": deps.adjustments.reject,
                  "cancel": deps.adjustments.cancel}[action]
        try:
            decided = await decide(who.user.id, adjustment_id, revision)
        except AdjustmentError as refused:
            raise _refused(refused, who) from None
        return json_answer({"adjustment": adjustment_json(decided, who)})

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)


async def approve(request: web.Request) -> web.Response:
    return await _decide(request, "approve")


async def reject(request: web.Request) -> web.Response:
    return await _decide(request, "reject")


async def cancel(request: web.Request) -> web.Response:
    return await _decide(request, "cancel")
