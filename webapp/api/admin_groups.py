"""A trader's rate group on their page in the admin screens (issue 14): ``PUT
/api/admin/users/{id}/group`` with ``{"group_id": <id> | null, "valid_from": "YYYY-MM-DD"}``
(null: out of every group; valid_from: today when absent, never earlier). The route checks the
caller's role (Permission.RATES; a refusal is a 403, audited), the service checks it again with
everything else (services/rebates/membership.py); the answer is the user's file as it is now."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from services.permissions import Permission
from services.rebates.membership import MembershipError, MembershipRefusal
from webapp.api.admin import operator, user_file
from webapp.api.common import ApiError, Caller, id_field, json_body, path_id, plain
from webapp.api.deps import API
from webapp.api.idempotency import once

_STATUS = {MembershipRefusal.NOT_ALLOWED: 403, MembershipRefusal.UNKNOWN_USER: 404,
           MembershipRefusal.NOT_TRADER: 409, MembershipRefusal.UNKNOWN_GROUP: 422,
           MembershipRefusal.PAST_DAY: 422}


def _day(value: object, who: Caller) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ApiError(422, "bad_date", plain(who.t("api.error.bad_date", field="valid_from")),
                   "valid_from")


async def set_group(request: web.Request) -> web.Response:
    who = await operator(request, Permission.RATES)
    target = path_id(request, who.t)
    deps = request.app[API]

    async def write(_key: str) -> web.Response:
        body = await json_body(request, who.t)
        if "group_id" not in body:
            raise ApiError(422, "bad_field", plain(who.t("api.error.bad_field",
                                                         field="group_id")), "group_id")
        group_id = id_field(body, "group_id", who.t, required=False)
        day = _day(body.get("valid_from"), who)
        today = deps.clock().date()
        try:
            await deps.memberships.set_group(who.user.id, target, group_id, day, today)
        except MembershipError as refused:
            code = refused.refusal.value
            raise ApiError(_STATUS[refused.refusal], code, plain(who.t(
                f"api.error.group.{code}", today=today.isoformat())), refused.field) from None
        return await user_file(request, who, target)

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)
